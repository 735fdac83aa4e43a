// A fresh `uturn --listening-ip 127.0.0.1 --listening-port 0` per test. Every
// test ends by checking that the server is still alive and stops cleanly on
// SIGTERM, so a test that crashes the server fails even if its own checks
// passed.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/integration/net.h"
#include "tests/integration/server_process.h"

namespace uturn::testing {

class LoopbackServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(server_.StartAndWaitReady({"--listening-ip", "127.0.0.1", "--listening-port", "0"},
                                          &error))
        << error;
    ASSERT_TRUE(server_.Udp().has_value()) << server_.Log();
    ASSERT_TRUE(server_.Tcp().has_value()) << server_.Log();
    udp_ = *server_.Udp();
    tcp_ = *server_.Tcp();
  }

  void TearDown() override {
    EXPECT_TRUE(server_.Alive()) << server_.Log();
    server_.Signal(SIGTERM);
    EXPECT_EQ(server_.WaitExit(), 0) << server_.Log();
  }

  ServerProcess server_;
  stun::SocketAddress udp_;
  stun::SocketAddress tcp_;
};

}  // namespace uturn::testing
