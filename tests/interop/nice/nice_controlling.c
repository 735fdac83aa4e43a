/* Interop: libnice as a full, controlling ICE agent (RFC 5245 compatibility)
 * against ice-lite-endpoint. It gathers host candidates on 127.0.0.1 only,
 * writes an SDP offer (a few lines written here from its credentials and
 * candidates) to OFFER_FILE, waits for ANSWER_FILE to appear (the test script
 * POSTs the offer and writes the answer there), takes the answer's
 * credentials and UDP candidates, and must see the component reach READY.
 *   nice_controlling OFFER_FILE ANSWER_FILE [TIMEOUT_S]
 * Exit status: 0 READY, 1 failed or timed out, 2 usage or set-up error.
 * Prints the selected pair on READY. */
#include <agent.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMainLoop *loop;
static NiceAgent *agent;
static guint stream_id;
static const char *offer_path, *answer_path;
static int exit_code = 1;

static void finish(int code, const char *why) {
  fprintf(code == 0 ? stdout : stderr, "%s: %s\n", code == 0 ? "PASS" : "FAIL", why);
  exit_code = code;
  g_main_loop_quit(loop);
}

static void on_recv(NiceAgent *a, guint sid, guint cid, guint len, gchar *buf, gpointer data) {
  (void)a, (void)sid, (void)cid, (void)len, (void)buf, (void)data;  /* media: not used */
}

static void on_gathering_done(NiceAgent *a, guint sid, gpointer data) {
  (void)data;
  gchar *ufrag = NULL, *pwd = NULL;
  if (!nice_agent_get_local_credentials(a, sid, &ufrag, &pwd)) {
    finish(2, "no local credentials");
    return;
  }
  GString *sdp = g_string_new(NULL);
  /* A data-channel-shaped offer: enough for the endpoint's SDP parser. */
  g_string_append(sdp,
                  "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
                  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
                  "a=mid:0\r\n");
  g_string_append_printf(sdp, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd);
  GSList *cands = nice_agent_get_local_candidates(a, sid, 1);
  int n = 0;
  for (GSList *i = cands; i; i = i->next) {
    gchar *line = nice_agent_generate_local_candidate_sdp(a, i->data);
    g_string_append_printf(sdp, "%s\r\n", line);
    g_free(line);
    ++n;
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  g_string_append(sdp,
                  "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                  "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
                  "a=setup:actpass\r\na=sctp-port:5000\r\n");
  g_free(ufrag);
  g_free(pwd);
  if (n == 0) {
    g_string_free(sdp, TRUE);
    finish(2, "gathered no candidate on 127.0.0.1");
    return;
  }
  /* Written whole, then renamed: the script never reads half an offer. */
  gchar *tmp = g_strdup_printf("%s.tmp", offer_path);
  GError *err = NULL;
  if (!g_file_set_contents(tmp, sdp->str, (gssize)sdp->len, &err) || rename(tmp, offer_path) != 0) {
    finish(2, err ? err->message : "cannot write the offer");
  }
  g_free(tmp);
  g_string_free(sdp, TRUE);
}

/* Applies the answer: its (first) credentials and its UDP candidates. */
static gboolean apply_answer(const gchar *text) {
  gchar **lines = g_strsplit(text, "\n", -1);
  gchar *ufrag = NULL, *pwd = NULL;
  GSList *remote = NULL;
  for (gchar **l = lines; *l; ++l) {
    g_strchomp(*l);  /* the CR of CRLF */
    if (g_str_has_prefix(*l, "a=ice-ufrag:") && !ufrag) ufrag = g_strdup(*l + 12);
    if (g_str_has_prefix(*l, "a=ice-pwd:") && !pwd) pwd = g_strdup(*l + 10);
    if (g_str_has_prefix(*l, "a=candidate:")) {
      NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(agent, stream_id, *l);
      if (c && c->transport == NICE_CANDIDATE_TRANSPORT_UDP && c->component_id == 1) {
        remote = g_slist_append(remote, c);
      } else if (c) {
        nice_candidate_free(c);
      }
    }
  }
  g_strfreev(lines);
  gboolean ok = ufrag && pwd && remote;
  if (ok) {
    ok = nice_agent_set_remote_credentials(agent, stream_id, ufrag, pwd) &&
         nice_agent_set_remote_candidates(agent, stream_id, 1, remote) > 0;
  }
  g_slist_free_full(remote, (GDestroyNotify)nice_candidate_free);
  g_free(ufrag);
  g_free(pwd);
  return ok;
}

static gboolean poll_answer(gpointer data) {
  (void)data;
  gchar *text = NULL;
  if (!g_file_get_contents(answer_path, &text, NULL, NULL)) return G_SOURCE_CONTINUE;
  if (!apply_answer(text)) finish(2, "answer without ice-ufrag, ice-pwd or a UDP candidate");
  g_free(text);
  return G_SOURCE_REMOVE;
}

static void on_state(NiceAgent *a, guint sid, guint cid, guint state, gpointer data) {
  (void)data;
  fprintf(stderr, "component %u state %s\n", cid, nice_component_state_to_string(state));
  if (state == NICE_COMPONENT_STATE_READY) {
    NiceCandidate *local = NULL, *remote = NULL;
    if (nice_agent_get_selected_pair(a, sid, cid, &local, &remote)) {
      gchar l[NICE_ADDRESS_STRING_LEN], r[NICE_ADDRESS_STRING_LEN];
      nice_address_to_string(&local->addr, l);
      nice_address_to_string(&remote->addr, r);
      printf("selected local=%s:%u remote=%s:%u\n", l, nice_address_get_port(&local->addr), r,
             nice_address_get_port(&remote->addr));
    }
    finish(0, "component READY");
  } else if (state == NICE_COMPONENT_STATE_FAILED) {
    finish(1, "component FAILED");
  }
}

static gboolean on_timeout(gpointer data) {
  (void)data;
  finish(1, "timed out before READY");
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nice_controlling OFFER_FILE ANSWER_FILE [TIMEOUT_S]\n");
    return 2;
  }
  offer_path = argv[1];
  answer_path = argv[2];
  const guint timeout_s = argc > 3 ? (guint)atoi(argv[3]) : 30;
  setvbuf(stdout, NULL, _IOLBF, 0);

  loop = g_main_loop_new(NULL, FALSE);
  agent = nice_agent_new(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245);
  /* RFC 8445 §6.1.1: against a lite peer the full agent is controlling. */
  g_object_set(agent, "controlling-mode", TRUE, "ice-tcp", FALSE, "upnp", FALSE, NULL);
  NiceAddress lo;
  nice_address_init(&lo);
  if (!nice_address_set_from_string(&lo, "127.0.0.1") || !nice_agent_add_local_address(agent, &lo)) {
    fprintf(stderr, "FAIL: cannot add 127.0.0.1\n");
    return 2;
  }
  g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), NULL);
  g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
  stream_id = nice_agent_add_stream(agent, 1);
  if (stream_id == 0) {
    fprintf(stderr, "FAIL: nice_agent_add_stream\n");
    return 2;
  }
  nice_agent_attach_recv(agent, stream_id, 1, g_main_loop_get_context(loop), on_recv, NULL);
  if (!nice_agent_gather_candidates(agent, stream_id)) {
    fprintf(stderr, "FAIL: nice_agent_gather_candidates\n");
    return 2;
  }
  g_timeout_add(50, poll_answer, NULL);
  g_timeout_add_seconds(timeout_s, on_timeout, NULL);
  g_main_loop_run(loop);
  g_object_unref(agent);
  g_main_loop_unref(loop);
  return exit_code;
}
