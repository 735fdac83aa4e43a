#include "client/tools/ice_peer_loop.h"

#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "stun/text.h"
#include "absl/time/clock.h"
#include "client/ice_agent.h"
#include "client/ice_socket_driver.h"
#include "client/tools/ice_peer_events.h"
#include "client/tools/ice_peer_http.h"
#include "client/tools/ice_peer_http_server.h"
#include "client/tools/ice_peer_signal.h"

namespace uturn::client::peer {
namespace {

// ICE-PEER.md: datagrams "20 ms apart"; "the last echo has had 2 s to arrive".
constexpr absl::Duration kSendInterval = absl::Milliseconds(20);
constexpr absl::Duration kEchoGrace = absl::Seconds(2);
// Longest the loop sleeps without looking at its own timers.
constexpr absl::Duration kMaxWait = absl::Milliseconds(500);

void Out(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);  // ICE-PEER.md: flush after every line
}

void Err(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Random(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::perror("uturn-ice: getrandom");
      std::abort();  // no randomness, no credentials or transaction IDs (RFC 8445 §5.3)
    }
    done += static_cast<size_t>(n);
  }
}

IceAgentConfig AgentConfig(const PeerOptions& o) {
  IceAgentConfig c;
  c.role = o.role;
  c.nomination = o.nomination;
  c.stun_servers = o.stun_servers;
  for (const stun::SocketAddress& a : o.turn_servers) {
    c.turn_servers.push_back(IceTurnServer{a, TurnCredentials{o.turn_user, o.turn_pass}, o.turn_transport});
  }
  c.relay_only = o.relay_only;
  // The peer's own --timeout rule (ICE-PEER.md) decides; the agent's comes
  // later so that it cannot print a second event=failed first.
  c.connect_timeout = o.timeout + absl::Seconds(5);
  c.software = "uturn-ice";
  return c;
}

class Peer {
 public:
  explicit Peer(const PeerOptions& o)
      : o_(o),
        agent_(AgentConfig(o), Random),
        driver_(&agent_, IceDriverCallbacks{[this](const IceEvent& e) { OnEvent(e); },
                                            [this](std::span<const uint8_t> d) { OnData(d); },
                                            [this](std::string_view w) { Debug(w); }}) {}

  ~Peer() {
    http_.reset();  // unwatches its fds from the driver first
    if (signal_fd_ >= 0) close(signal_fd_);
  }

  int Run();

 private:
  void Debug(std::string_view what) {
    if (o_.verbose) Err(text::Cat("event=debug what=", LogfmtValue(what)));
  }
  void Exit(int code) {
    if (!exit_code_) exit_code_ = code;
  }
  void PrintCredentials();
  void OnEvent(const IceEvent& e);
  void OnData(std::span<const uint8_t> data);
  void FlushEarlyEchoes();
  void OnStdin(absl::Time now);
  // True if the agent took it.
  bool Apply(const SignalAction& a, absl::Time now);
  void Tick(absl::Time now);
  absl::Time NextDeadline() const;
  absl::Status OpenHttp();
  void OnOffer(const RemoteOffer& offer, absl::Time now);

  const PeerOptions& o_;
  IceAgent agent_;
  IceSocketDriver driver_;
  std::unique_ptr<OfferHttpServer> http_;  // --http
  std::optional<int> exit_code_;
  absl::Time start_;
  std::optional<absl::Time> timeout_at_;

  LineSplitter splitter_;
  SignalReader reader_;
  bool stdin_open_ = true;
  ice::Credentials printed_;

  bool connected_ = false;       // now
  bool ever_connected_ = false;
  bool gathering_complete_ = false;
  std::optional<absl::Time> connected_at_;
  bool restarted_ = false;

  uint64_t sent_ = 0;
  uint64_t received_ = 0;  // --send: distinct echoes; --echo: datagrams
  absl::flat_hash_set<uint32_t> echoed_;
  // --echo: datagrams that arrived before our side selected a pair (the
  // controlled side selects once its own check on the nominated pair
  // succeeds, RFC 8445 §7.3.1.5, which may be just after the remote's first
  // data); echoed once a pair is selected. Bounded.
  static constexpr size_t kMaxEarlyEchoes = 64;
  std::deque<std::vector<uint8_t>> early_echoes_;
  absl::Time next_send_ = absl::InfiniteFuture();
  std::optional<absl::Time> finish_at_;

  int signal_fd_ = -1;
};

void Peer::PrintCredentials() {
  // ICE-PEER.md: credentials before any candidate; never an empty pair.
  if (agent_.local_credentials().ufrag.empty()) return;
  printed_ = agent_.local_credentials();
  for (const std::string& l : CredentialLines(printed_)) Out(l);
}

void Peer::OnEvent(const IceEvent& e) {
  switch (e.kind) {
    case IceEvent::Kind::kLocalCandidate:
      // A remote restart may have renewed our credentials: they go first.
      if (!(agent_.local_credentials() == printed_)) PrintCredentials();
      Out(CandidateLine(e.candidate.candidate));
      Err(GatheredLine(e.candidate));
      break;
    case IceEvent::Kind::kGatheringComplete:
      gathering_complete_ = true;
      Out(kEndOfCandidatesLine);
      break;
    case IceEvent::Kind::kSelectedPair:
      Err(SelectedLine(e.pair));
      FlushEarlyEchoes();
      break;
    case IceEvent::Kind::kRoleChanged:
      Err(RoleLine(e.role));
      break;
    case IceEvent::Kind::kRestarted:
      if (!(agent_.local_credentials() == printed_)) PrintCredentials();
      Err(kRestartedLine);
      break;
    case IceEvent::Kind::kTurnError:
      Err(ErrorLine(text::Cat("turn: ", e.reason)));
      break;
    case IceEvent::Kind::kStateChanged:
      switch (e.state) {
        case IceState::kConnected:
        case IceState::kCompleted:
          if (!connected_) Err(kConnectedLine);
          connected_ = true;
          if (!ever_connected_) {
            ever_connected_ = true;
            connected_at_ = absl::Now();
            if (o_.send) next_send_ = *connected_at_;
          }
          break;
        case IceState::kDisconnected:
          connected_ = false;
          Err(DisconnectedLine(e.reason));
          break;
        case IceState::kFailed:
          connected_ = false;
          Err(FailedLine(e.reason));
          // ICE-PEER.md: exit 1 after consent is lost with no other pair.
          // A session that never connected waits for --timeout instead: a
          // remote restart, or checks from a peer-reflexive remote (RFC 8445
          // §7.3.1.3; a browser's mDNS candidates hide its address), may
          // still come.
          if (e.reason == "consent" || ever_connected_) Exit(1);
          break;
        case IceState::kNew:
        case IceState::kChecking:
        case IceState::kClosed:
          break;
      }
      break;
  }
}

void Peer::FlushEarlyEchoes() {
  while (!early_echoes_.empty()) {
    if (!driver_.SendData(early_echoes_.front()).ok()) return;
    ++sent_;
    early_echoes_.pop_front();
  }
}

void Peer::OnData(std::span<const uint8_t> data) {
  if (o_.echo) {
    ++received_;
    if (absl::Status s = driver_.SendData(data); !s.ok()) {
      Debug(text::Cat("echo: ", s.message()));
      if (!ever_connected_ && early_echoes_.size() < kMaxEarlyEchoes) {
        early_echoes_.emplace_back(data.begin(), data.end());
      }
    } else {
      ++sent_;
    }
    return;
  }
  if (!o_.send) return;
  const std::optional<uint32_t> seq = DatagramSequence(data);
  if (!seq || *seq >= sent_) {
    Debug("data that is not an echo of ours");
    return;
  }
  if (echoed_.insert(*seq).second) ++received_;
}

bool Peer::Apply(const SignalAction& a, absl::Time now) {
  absl::Status s;
  switch (a.kind) {
    case SignalAction::Kind::kCredentials:
      s = agent_.SetRemoteCredentials(a.credentials, now);
      if (!s.ok()) Err(ErrorLine(text::Cat("remote credentials refused: ", s.message())));
      return s.ok();
    case SignalAction::Kind::kCandidate:
      s = agent_.AddRemoteCandidate(a.candidate, now);
      // Well-formed but unusable (TCP, mDNS, ...): not an error of the remote.
      if (!s.ok()) Debug(text::Cat("remote candidate refused: ", s.message()));
      return s.ok();
    case SignalAction::Kind::kEndOfCandidates:
      agent_.SetRemoteEndOfCandidates(now);
      return true;
    case SignalAction::Kind::kLite:
      agent_.SetRemoteLite(true);
      return true;
    case SignalAction::Kind::kError:
      Err(ErrorLine(a.error));
      return false;
  }
  return false;
}

void Peer::OnStdin(absl::Time now) {
  char buf[16384];
  const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  std::vector<std::string> lines;
  size_t overlong = 0;
  if (n > 0) {
    lines = splitter_.Feed(std::string_view(buf, static_cast<size_t>(n)), &overlong);
  } else {
    // ICE-PEER.md: end of stdin means no more remote candidates; keep running.
    stdin_open_ = false;
    driver_.Unwatch(STDIN_FILENO);
    if (std::optional<std::string> last = splitter_.Finish()) lines.push_back(*last);
  }
  if (overlong > 0) Err(ErrorLine("over-long signalling line ignored"));
  for (const std::string& l : lines) {
    for (const SignalAction& a : reader_.Line(l)) Apply(a, now);
  }
  if (!stdin_open_ && reader_.has_credentials() && !reader_.end_of_candidates()) {
    agent_.SetRemoteEndOfCandidates(now);
  }
}

absl::Time Peer::NextDeadline() const {
  absl::Time t = next_send_;
  if (timeout_at_ && !ever_connected_) t = std::min(t, *timeout_at_);
  if (finish_at_) t = std::min(t, *finish_at_);
  if (o_.restart_after && connected_at_ && !restarted_) t = std::min(t, *connected_at_ + *o_.restart_after);
  if (http_) t = std::min(t, http_->NextDeadline());
  return t;
}

void Peer::Tick(absl::Time now) {
  if (timeout_at_ && !ever_connected_ && now >= *timeout_at_) {
    Err(FailedLine("timeout"));
    Exit(1);
    return;
  }
  if (o_.send && now >= next_send_ && sent_ < static_cast<uint64_t>(*o_.send)) {
    const auto d = MakeDatagram(static_cast<uint32_t>(sent_));
    ++sent_;  // counted even when no pair is selected right now: it is lost
    if (absl::Status s = driver_.SendData(d); !s.ok()) Debug(text::Cat("send: ", s.message()));
    next_send_ = now + kSendInterval;
    if (sent_ == static_cast<uint64_t>(*o_.send)) {
      next_send_ = absl::InfiniteFuture();
      finish_at_ = now + kEchoGrace;
    }
  }
  if (finish_at_ && now >= *finish_at_) {
    Exit(ever_connected_ && EnoughEchoed(sent_, received_) ? 0 : 1);
    return;
  }
  if (o_.restart_after && connected_at_ && !restarted_ && now >= *connected_at_ + *o_.restart_after) {
    restarted_ = true;
    absl::Status s = driver_.WithAgent([&](IceAgent& a) {
      absl::Status r = a.Restart(now);
      // RFC 8445 §9: the new credentials are signalled before the candidates.
      if (r.ok()) PrintCredentials();
      return r;
    });
    if (!s.ok()) Err(ErrorLine(text::Cat("restart: ", s.message())));
  }
  if (http_) http_->Tick(now);
}

int Peer::Run() {
  start_ = absl::Now();
  signal(SIGPIPE, SIG_IGN);  // the other peer's stdin may close under us
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    Err(text::Cat("uturn-ice: signalfd: ", std::strerror(errno)));
    return 1;
  }

  IceSocketDriverOptions dopts;
  dopts.bind = o_.bind;
  if (absl::Status s = driver_.Open(dopts); !s.ok()) {
    Err(ErrorLine(text::Cat("no local socket: ", s.message())));
    return 1;
  }
  if (o_.http) {
    if (absl::Status s = OpenHttp(); !s.ok()) {
      Err(ErrorLine(std::string(s.message())));
      return 1;
    }
  } else {
    timeout_at_ = start_ + o_.timeout;
    (void)driver_.Watch(STDIN_FILENO, [this](absl::Time now) { OnStdin(now); });
  }
  (void)driver_.Watch(signal_fd_, [this](absl::Time) {
    signalfd_siginfo si;
    if (read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      // ICE-PEER.md: without --send, exit 0 on SIGTERM/SIGINT if it had
      // connected; with --send, stopped early, the 90% rule on what was sent so far.
      const bool ok = ever_connected_ && (!o_.send || EnoughEchoed(sent_, received_));
      Exit(ok ? 0 : 1);
    }
  });

  PrintCredentials();
  const absl::Status g = driver_.WithAgent([](IceAgent& a) { return a.StartGathering(absl::Now()); });
  if (!g.ok()) {
    Err(ErrorLine(text::Cat("gathering: ", g.message())));
    return 1;
  }
  // Each iteration sleeps at most kMaxWait; the exit rules above bound the run.
  while (!exit_code_) {
    const absl::Time now = absl::Now();
    const absl::Duration wait = std::clamp(NextDeadline() - now, absl::ZeroDuration(), kMaxWait);
    if (absl::Status s = driver_.RunOnce(wait); !s.ok()) {
      Err(ErrorLine(std::string(s.message())));
      Exit(1);
      break;
    }
    driver_.WithAgent([&](IceAgent&) {
      Tick(absl::Now());
      return 0;
    });
  }
  if (o_.send || o_.echo) Err(DataLine(sent_, received_));
  // Deallocate TURN allocations (RFC 8656 §7.3 Refresh lifetime 0) before leaving.
  driver_.WithAgent([](IceAgent& a) {
    a.Close(absl::Now());
    return 0;
  });
  // Writes what is queued on TURN streams (the Refresh above) and closes them.
  driver_.Close();
  return *exit_code_;
}

void Peer::OnOffer(const RemoteOffer& offer, absl::Time now) {
  // The offer: its credentials and candidates, then end-of-candidates (the
  // page sent it after gathering completed: non-trickle) -- unless none
  // was usable. Browsers hide host addresses behind mDNS names (refused:
  // no resolver here); their checks then make peer-reflexive remote
  // candidates (RFC 8445 §7.3.1.3), which an ended, empty checklist would
  // have failed before they arrive.
  timeout_at_ = now + o_.timeout;
  size_t usable = 0;
  if (Apply(SignalAction{SignalAction::Kind::kCredentials, offer.credentials, {}, {}}, now)) {
    for (const ice::Candidate& c : offer.candidates) {
      usable += Apply(SignalAction{SignalAction::Kind::kCandidate, {}, c, {}}, now) ? 1 : 0;
    }
  }
  Err(text::Cat("event=offer candidates=", offer.candidates.size(), " usable=", usable));
  if (usable > 0) agent_.SetRemoteEndOfCandidates(now);
}

absl::Status Peer::OpenHttp() {
  OfferHttpServer::Hooks hooks;
  hooks.on_offer = [this](const RemoteOffer& o, absl::Time now) { OnOffer(o, now); };
  hooks.ready = [this] { return gathering_complete_; };
  hooks.local_credentials = [this] { return agent_.local_credentials(); };
  hooks.local_candidates = [this] {
    std::vector<ice::Candidate> out;
    for (const IceCandidateInfo& c : agent_.local_candidates()) out.push_back(c.candidate);
    return out;
  };
  hooks.debug = [this](std::string_view w) { Debug(w); };
  http_ = std::make_unique<OfferHttpServer>(&driver_, Random, std::move(hooks));
  absl::StatusOr<stun::SocketAddress> at = http_->Open(*o_.http);
  if (!at.ok()) return at.status();
  Err(text::Cat("event=listening address=", at->ToString()));
  return absl::OkStatus();
}

}  // namespace

int RunPeer(const PeerOptions& options) {
  auto peer = std::make_unique<Peer>(options);
  return peer->Run();
}

}  // namespace uturn::client::peer
