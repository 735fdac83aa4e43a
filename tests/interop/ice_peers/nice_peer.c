/* nice-ice-peer: libnice (RFC 5245 compatibility, full mode, trickle, RFC 7675
 * consent) wrapped in the ice-peer contract of ../shared/ICE-PEER.md, so that
 * it can be run against uturn-ice or any other contract peer by piping one's
 * stdout into the other's stdin. Flags, a= lines, logfmt events, datagrams
 * and exit codes are the contract's; README.md lists where libnice differs.
 * Exit status: 0 connected (and >= 90% of --send echoed), 1 not, 2 usage. */
#include <agent.h>
#include <getopt.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kDatagramSize = 100, kSendIntervalMs = 20, kEchoGraceS = 2 };

static struct {
  gboolean controlling, role_given, relay_only, echo, aggressive;
  GPtrArray *stun, *turn, *bind;
  const char *turn_user, *turn_pass;
  long send_n;
  long restart_after_s;
  long timeout_s;
} opt;

static GMainLoop *loop;
static NiceAgent *agent;
static guint stream_id;
static int exit_code = 1;
static gboolean connected;           /* ever READY */
static gboolean have_remote;         /* remote credentials applied */
static gboolean awaiting_restart;    /* we restarted; the remote's new credentials are the answer */
static gchar *remote_ufrag, *remote_pwd, *pending_ufrag, *pending_pwd;
static GSList *queued;               /* remote candidates that came before the credentials */
static long sent, received, seq;

static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static void event(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void event(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
}

static void quit(int code) {
  exit_code = code;
  g_main_loop_quit(loop);
}

static void report_data(void) { event("event=data sent=%ld received=%ld", sent, received); }

static void fmt_addr(const NiceAddress *a, char *out, size_t n) {
  char ip[NICE_ADDRESS_STRING_LEN];
  nice_address_to_string(a, ip);
  if (nice_address_ip_version(a) == 6) {
    snprintf(out, n, "[%s]:%u", ip, nice_address_get_port(a));
  } else {
    snprintf(out, n, "%s:%u", ip, nice_address_get_port(a));
  }
}

static const char *type_name(NiceCandidateType t) {
  switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
  }
  return "unknown";
}

/* --relay-only: only relayed candidates are announced (libnice's force-relay
 * keeps it from pairing the others). */
static gboolean announced(const NiceCandidate *c) {
  return c->component_id == 1 && (!opt.relay_only || c->type == NICE_CANDIDATE_TYPE_RELAYED);
}

static void announce_candidate(NiceCandidate *c) {
  gchar *line = nice_agent_generate_local_candidate_sdp(agent, c);
  say("%s", line); /* "a=candidate:..." */
  g_free(line);
}

static gboolean announce_credentials(void) {
  gchar *ufrag = NULL, *pwd = NULL;
  if (!nice_agent_get_local_credentials(agent, stream_id, &ufrag, &pwd)) return FALSE;
  say("a=ice-ufrag:%s", ufrag);
  say("a=ice-pwd:%s", pwd);
  say("a=ice-options:trickle");
  g_free(ufrag);
  g_free(pwd);
  return TRUE;
}

static void on_new_candidate(NiceAgent *a, NiceCandidate *c, gpointer data) {
  (void)a, (void)data;
  if (!announced(c)) return;
  char addr[INET6_ADDRSTRLEN + 8];
  fmt_addr(&c->addr, addr, sizeof addr);
  event("event=gathered type=%s address=%s", type_name(c->type), addr);
  announce_candidate(c);
}

static void on_gathering_done(NiceAgent *a, guint sid, gpointer data) {
  (void)a, (void)sid, (void)data;
  say("a=end-of-candidates");
}

static void on_selected(NiceAgent *a, guint sid, guint cid, NiceCandidate *l, NiceCandidate *r,
                        gpointer data) {
  (void)a, (void)sid, (void)cid, (void)data;
  char la[INET6_ADDRSTRLEN + 8], ra[INET6_ADDRSTRLEN + 8];
  fmt_addr(&l->addr, la, sizeof la);
  fmt_addr(&r->addr, ra, sizeof ra);
  event("event=selected local_type=%s remote_type=%s local=%s remote=%s", type_name(l->type),
        type_name(r->type), la, ra);
}

static void send_datagram(const guint8 *buf) {
  if (nice_agent_send(agent, stream_id, 1, kDatagramSize, (const gchar *)buf) < 0) {
    event("level=warn event=send_failed");
  }
  ++sent;
}

static void on_recv(NiceAgent *a, guint sid, guint cid, guint len, gchar *buf, gpointer data) {
  (void)a, (void)sid, (void)cid, (void)data;
  /* The contract's application datagram: 100 bytes, byte 0 0x80. */
  if (len != kDatagramSize || (guint8)buf[0] != 0x80) return;
  ++received;
  if (opt.echo) send_datagram((const guint8 *)buf);
}

static gboolean finish_send(gpointer data) {
  (void)data;
  report_data();
  quit(connected && received * 10 >= sent * 9 ? 0 : 1);
  return G_SOURCE_REMOVE;
}

static gboolean send_tick(gpointer data) {
  (void)data;
  guint8 buf[kDatagramSize] = {0x80};
  buf[1] = (guint8)(seq >> 24), buf[2] = (guint8)(seq >> 16);
  buf[3] = (guint8)(seq >> 8), buf[4] = (guint8)seq;
  ++seq;
  send_datagram(buf);
  if (seq < opt.send_n) return G_SOURCE_CONTINUE;
  g_timeout_add_seconds(kEchoGraceS, finish_send, NULL);
  return G_SOURCE_REMOVE;
}

/* Re-announces this side after a restart: new credentials, the candidates
 * libnice keeps across it, end-of-candidates. */
static void restart(void) {
  if (!nice_agent_restart_stream(agent, stream_id)) {
    event("level=error event=restart_failed");
    return;
  }
  event("event=restarted");
  announce_credentials();
  GSList *cands = nice_agent_get_local_candidates(agent, stream_id, 1);
  for (GSList *i = cands; i; i = i->next) {
    if (announced(i->data)) announce_candidate(i->data);
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  say("a=end-of-candidates");
}

static gboolean restart_tick(gpointer data) {
  (void)data;
  awaiting_restart = TRUE;
  restart();
  return G_SOURCE_REMOVE;
}

static void on_state(NiceAgent *a, guint sid, guint cid, guint state, gpointer data) {
  (void)a, (void)sid, (void)data;
  if (cid != 1) return;
  event("level=debug event=nice_state state=%s", nice_component_state_to_string(state));
  if (state == NICE_COMPONENT_STATE_READY && !connected) {
    connected = TRUE;
    event("event=connected");
    if (opt.send_n > 0) g_timeout_add(kSendIntervalMs, send_tick, NULL);
    if (opt.restart_after_s > 0) g_timeout_add_seconds((guint)opt.restart_after_s, restart_tick, NULL);
  } else if (state == NICE_COMPONENT_STATE_FAILED) {
    if (connected) {
      /* RFC 7675: the selected pair lost consent and no other pair works. */
      event("event=disconnected reason=consent");
      event("event=failed reason=consent");
    } else {
      event("event=failed reason=checks");
    }
    report_data();
    quit(1);
  }
}

static void add_remote_candidate(NiceCandidate *c) {
  GSList one = {.data = c, .next = NULL};
  if (nice_agent_set_remote_candidates(agent, stream_id, 1, &one) < 1) {
    event("level=warn event=candidate_rejected");
  }
}

static void apply_credentials(void) {
  gchar *ufrag = pending_ufrag, *pwd = pending_pwd;
  pending_ufrag = pending_pwd = NULL;
  if (have_remote && !g_strcmp0(ufrag, remote_ufrag) && !g_strcmp0(pwd, remote_pwd)) {
    g_free(ufrag), g_free(pwd);
    return; /* the same credentials again: no restart */
  }
  if (have_remote) {
    /* RFC 8445 §9: new remote credentials are a restart; unless it answers
     * ours, this side restarts too. */
    if (awaiting_restart) {
      awaiting_restart = FALSE;
    } else {
      restart();
    }
  }
  if (!nice_agent_set_remote_credentials(agent, stream_id, ufrag, pwd)) {
    event("level=error event=bad_credentials");
  }
  g_free(remote_ufrag), g_free(remote_pwd);
  remote_ufrag = ufrag, remote_pwd = pwd;
  have_remote = TRUE;
  for (GSList *i = queued; i; i = i->next) add_remote_candidate(i->data);
  g_slist_free_full(queued, (GDestroyNotify)nice_candidate_free);
  queued = NULL;
}

static void handle_line(const char *line) {
  if (g_str_has_prefix(line, "a=ice-ufrag:")) {
    g_free(pending_ufrag);
    pending_ufrag = g_strdup(line + strlen("a=ice-ufrag:"));
  } else if (g_str_has_prefix(line, "a=ice-pwd:")) {
    g_free(pending_pwd);
    pending_pwd = g_strdup(line + strlen("a=ice-pwd:"));
  } else if (g_str_has_prefix(line, "a=candidate:")) {
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(agent, stream_id, line);
    if (!c) {
      event("level=error event=bad_candidate line=\"%s\"", line);
      return;
    }
    if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP || c->component_id != 1) {
      /* RFC 8839 §5.1: a candidate this agent cannot use is ignored. */
      event("level=info event=candidate_ignored reason=transport_or_component");
      nice_candidate_free(c);
      return;
    }
    if (have_remote && !pending_ufrag) {
      add_remote_candidate(c);
      nice_candidate_free(c);
    } else {
      queued = g_slist_append(queued, c);
    }
  } else if (!strcmp(line, "a=end-of-candidates")) {
    /* RFC 8838 §13: the remote has no more candidates for this generation. */
    if (have_remote) nice_agent_peer_candidate_gathering_done(agent, stream_id);
  }
  if (pending_ufrag && pending_pwd) apply_credentials();
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data) {
  (void)cond, (void)data;
  for (int i = 0; i < 1000; ++i) { /* bounded: the rest comes on the next wake-up */
    gchar *line = NULL;
    gsize term = 0;
    GIOStatus st = g_io_channel_read_line(ch, &line, NULL, &term, NULL);
    if (st == G_IO_STATUS_NORMAL && line) {
      line[term] = '\0';
      g_strchomp(line); /* a CR of CRLF */
      handle_line(line);
      g_free(line);
      continue;
    }
    g_free(line);
    if (st == G_IO_STATUS_AGAIN) return G_SOURCE_CONTINUE;
    /* End of stdin: no more remote candidates; keep running. */
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data) {
  (void)data;
  report_data();
  quit(connected ? 0 : 1);
  return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer data) {
  (void)data;
  if (connected) return G_SOURCE_REMOVE;
  event("event=failed reason=timeout");
  report_data();
  quit(1);
  return G_SOURCE_REMOVE;
}

/* GLib writes debug and info messages (G_MESSAGES_DEBUG=libnice) to stdout,
 * which is the signalling channel here: every message goes to stderr. */
static GLogWriterOutput log_to_stderr(GLogLevelFlags level, const GLogField *fields, gsize n,
                                      gpointer data) {
  (void)data;
  const char *domain = NULL;
  for (gsize i = 0; i < n; ++i) {
    if (!strcmp(fields[i].key, "GLIB_DOMAIN")) domain = fields[i].value;
  }
  if (g_log_writer_default_would_drop(level, domain)) return G_LOG_WRITER_HANDLED;
  gchar *text = g_log_writer_format_fields(level, fields, n, FALSE);
  fprintf(stderr, "%s\n", text);
  g_free(text);
  return G_LOG_WRITER_HANDLED;
}

static int usage(const char *why) {
  fprintf(stderr,
          "nice-ice-peer: %s\n"
          "usage: nice-ice-peer [--controlling|--controlled] [--stun IP:PORT] [--turn IP:PORT "
          "--turn-user U --turn-pass P] [--turn-transport udp] [--relay-only] [--bind IP]... "
          "[--nomination regular|aggressive] [--send N] [--echo] [--restart-after S] "
          "[--timeout S]\n",
          why);
  return 2;
}

static gboolean parse_long(const char *s, long min, long *out) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < min) return FALSE;
  *out = v;
  return TRUE;
}

/* "IP:PORT" or "[IPv6]:PORT" into host and port. */
static gboolean split_hostport(const char *s, gchar **host, guint *port) {
  const char *colon = strrchr(s, ':');
  long p = 0;
  if (!colon || !parse_long(colon + 1, 1, &p) || p > 65535) return FALSE;
  const char *b = s, *e = colon;
  if (*b == '[' && e > b && e[-1] == ']') ++b, --e;
  *host = g_strndup(b, (gsize)(e - b));
  NiceAddress a;
  nice_address_init(&a);
  if (!nice_address_set_from_string(&a, *host)) {
    g_free(*host);
    return FALSE;
  }
  *port = (guint)p;
  return TRUE;
}

static int parse_args(int argc, char **argv) {
  enum { kStun = 256, kTurn, kTurnUser, kTurnPass, kTurnTransport, kRelayOnly, kBind, kNomination,
         kSend, kEcho, kRestartAfter, kTimeout, kControlling, kControlled };
  static const struct option longopts[] = {
      {"controlling", no_argument, NULL, kControlling},
      {"controlled", no_argument, NULL, kControlled},
      {"stun", required_argument, NULL, kStun},
      {"turn", required_argument, NULL, kTurn},
      {"turn-user", required_argument, NULL, kTurnUser},
      {"turn-pass", required_argument, NULL, kTurnPass},
      {"turn-transport", required_argument, NULL, kTurnTransport},
      {"relay-only", no_argument, NULL, kRelayOnly},
      {"bind", required_argument, NULL, kBind},
      {"nomination", required_argument, NULL, kNomination},
      {"send", required_argument, NULL, kSend},
      {"echo", no_argument, NULL, kEcho},
      {"restart-after", required_argument, NULL, kRestartAfter},
      {"timeout", required_argument, NULL, kTimeout},
      {NULL, 0, NULL, 0}};
  opt.stun = g_ptr_array_new();
  opt.turn = g_ptr_array_new();
  opt.bind = g_ptr_array_new();
  opt.timeout_s = 30;
  opt.controlling = TRUE; /* without a role flag, as uturn-ice: controlling */
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case kControlling:
        if (opt.role_given && !opt.controlling) return usage("both --controlling and --controlled");
        opt.controlling = TRUE, opt.role_given = TRUE;
        break;
      case kControlled:
        if (opt.role_given && opt.controlling) return usage("both --controlling and --controlled");
        opt.controlling = FALSE, opt.role_given = TRUE;
        break;
      case kStun: g_ptr_array_add(opt.stun, optarg); break;
      case kTurn: g_ptr_array_add(opt.turn, optarg); break;
      case kTurnUser: opt.turn_user = optarg; break;
      case kTurnPass: opt.turn_pass = optarg; break;
      case kTurnTransport:
        if (strcmp(optarg, "udp") != 0) {
          if (!strcmp(optarg, "tcp") || !strcmp(optarg, "tls")) {
            fprintf(stderr, "nice-ice-peer: --turn-transport %s: not supported\n", optarg);
            return 2;
          }
          return usage("--turn-transport must be udp, tcp or tls");
        }
        break;
      case kRelayOnly: opt.relay_only = TRUE; break;
      case kBind: g_ptr_array_add(opt.bind, optarg); break;
      case kNomination:
        if (!strcmp(optarg, "aggressive")) opt.aggressive = TRUE;
        else if (!strcmp(optarg, "regular")) opt.aggressive = FALSE;
        else return usage("--nomination must be regular or aggressive");
        break;
      case kSend: if (!parse_long(optarg, 0, &opt.send_n)) return usage("bad --send"); break;
      case kEcho: opt.echo = TRUE; break;
      case kRestartAfter:
        if (!parse_long(optarg, 1, &opt.restart_after_s)) return usage("bad --restart-after");
        break;
      case kTimeout: if (!parse_long(optarg, 1, &opt.timeout_s)) return usage("bad --timeout"); break;
      default: return usage("unknown option");
    }
  }
  if (optind != argc) return usage("unexpected argument");
  if (opt.turn->len && (!opt.turn_user || !opt.turn_pass)) return usage("--turn needs --turn-user and --turn-pass");
  if (opt.relay_only && !opt.turn->len) return usage("--relay-only needs --turn");
  return 0;
}

static int setup(void) {
  agent = nice_agent_new_full(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245,
                              (opt.aggressive ? 0 : NICE_AGENT_OPTION_REGULAR_NOMINATION) |
                                  NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS);
  g_object_set(agent, "controlling-mode", opt.controlling, "ice-tcp", FALSE, "upnp", FALSE,
               "force-relay", opt.relay_only, NULL);
  if (opt.stun->len) {
    gchar *host = NULL;
    guint port = 0;
    if (!split_hostport(g_ptr_array_index(opt.stun, 0), &host, &port)) return usage("bad --stun");
    g_object_set(agent, "stun-server", host, "stun-server-port", port, NULL);
    g_free(host);
    if (opt.stun->len > 1) event("level=warn event=stun_ignored reason=libnice_takes_one_stun_server");
  }
  for (guint i = 0; i < opt.bind->len; ++i) {
    NiceAddress a;
    nice_address_init(&a);
    if (!nice_address_set_from_string(&a, g_ptr_array_index(opt.bind, i)) ||
        !nice_agent_add_local_address(agent, &a)) {
      return usage("bad --bind");
    }
  }
  g_signal_connect(agent, "new-candidate-full", G_CALLBACK(on_new_candidate), NULL);
  g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), NULL);
  g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(on_selected), NULL);
  g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
  stream_id = nice_agent_add_stream(agent, 1);
  if (!stream_id) return usage("nice_agent_add_stream failed");
  for (guint i = 0; i < opt.turn->len; ++i) {
    gchar *host = NULL;
    guint port = 0;
    if (!split_hostport(g_ptr_array_index(opt.turn, i), &host, &port)) return usage("bad --turn");
    gboolean ok = nice_agent_set_relay_info(agent, stream_id, 1, host, port, opt.turn_user,
                                            opt.turn_pass, NICE_RELAY_TYPE_TURN_UDP);
    g_free(host);
    if (!ok) return usage("nice_agent_set_relay_info failed");
  }
  nice_agent_attach_recv(agent, stream_id, 1, g_main_loop_get_context(loop), on_recv, NULL);
  /* The contract: credentials first, then candidates as they are gathered. */
  if (!announce_credentials()) return usage("no local credentials");
  if (!nice_agent_gather_candidates(agent, stream_id)) {
    event("event=failed reason=gather");
    return 1;
  }
  return 0;
}

/* Closing: libnice deallocates its TURN allocations (Refresh with lifetime
 * 0) before the agent goes; bounded, the TURN server may be gone. */
static void on_closed(GObject *src, GAsyncResult *res, gpointer data) {
  (void)src, (void)res;
  *(gboolean *)data = TRUE;
}

static gboolean on_close_deadline(gpointer data) {
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

static void close_agent(void) {
  gboolean closed = FALSE, expired = FALSE;
  nice_agent_close_async(agent, on_closed, &closed);
  guint deadline = g_timeout_add(2000, on_close_deadline, &expired);
  GMainContext *ctx = g_main_loop_get_context(loop);
  while (!closed && !expired) g_main_context_iteration(ctx, TRUE);
  if (!expired) g_source_remove(deadline);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN); /* the other peer may exit first */
  g_log_set_writer_func(log_to_stderr, NULL, NULL);
  int rc = parse_args(argc, argv);
  if (rc) return rc;
  loop = g_main_loop_new(NULL, FALSE);
  rc = setup();
  if (rc) return rc;
  GIOChannel *in = g_io_channel_unix_new(STDIN_FILENO);
  g_io_channel_set_flags(in, G_IO_FLAG_NONBLOCK, NULL);
  g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
  g_unix_signal_add(SIGTERM, on_signal, NULL);
  g_unix_signal_add(SIGINT, on_signal, NULL);
  g_timeout_add_seconds((guint)opt.timeout_s, on_timeout, NULL);
  g_main_loop_run(loop);
  close_agent();
  g_io_channel_unref(in);
  g_object_unref(agent);
  g_main_loop_unref(loop);
  return exit_code;
}
