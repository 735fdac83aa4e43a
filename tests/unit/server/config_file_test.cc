#include "server/config_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace uturn::server {
namespace {

TEST(ConfigFileTest, ParsesPairsFlagsCommentsAndBlankLines) {
  auto entries = ParseConfigText(
      "# a comment\n"
      "\n"
      "listening-port = 3479\n"
      "   no-udp   \n"
      "  # indented comment\n"
      "software-name=\"quoted value\"\r\n"
      "static-auth-secret = a#b = c\n",
      "test.conf");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].name, "listening-port");
  EXPECT_EQ((*entries)[0].value, "3479");
  EXPECT_EQ((*entries)[0].line, 3);
  EXPECT_EQ((*entries)[1].name, "no-udp");
  EXPECT_FALSE((*entries)[1].value.has_value());
  EXPECT_EQ((*entries)[1].line, 4);
  EXPECT_EQ((*entries)[2].value, "quoted value");
  EXPECT_EQ((*entries)[2].line, 6);
  // '#' inside a value and further '=' belong to the value.
  EXPECT_EQ((*entries)[3].value, "a#b = c");
}

TEST(ConfigFileTest, EmptyValueIsKeptAsEmpty) {
  auto entries = ParseConfigText("software-name =\n", "f");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].value, "");
}

TEST(ConfigFileTest, SyntaxErrorsCarrySourceAndLine) {
  auto bad = ParseConfigText("listening-port = 1\n\nlistening port = 2\n", "my.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("my.conf:3:"), std::string::npos) << bad.status();

  auto no_name = ParseConfigText("= 5\n", "x.conf");
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("x.conf:1:"), std::string::npos);
}

TEST(ConfigFileTest, MissingFileIsAnErrorNamingIt) {
  auto r = ReadConfigFile("/nonexistent/uturn.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/uturn.conf"), std::string::npos);
}

TEST(ConfigFileTest, ReadsAFile) {
  char path[] = "/tmp/uturn_config_file_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  { std::ofstream(path) << "no-tcp\nlistening-port = 1\n"; }
  auto r = ReadConfigFile(path);
  std::remove(path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].line, 2);
}

}  // namespace
}  // namespace uturn::server
