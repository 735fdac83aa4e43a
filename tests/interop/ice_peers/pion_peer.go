// pion-ice-peer: pion/ice v2 (full mode, trickle) wrapped in the ice-peer
// contract of ../shared/ICE-PEER.md, so that it can be run against uturn-ice
// or any other contract peer by piping one's stdout into the other's stdin.
// Flags, a= lines, logfmt events, datagrams and exit codes are the
// contract's; README.md lists where pion differs.
// Exit status: 0 connected (and >= 90% of --send echoed), 1 not, 2 usage.
//
// pion calls back from its own goroutines; every decision is taken in main's
// select loop, which owns the state below.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/logging"
)

const (
	datagramSize = 100
	sendInterval = 20 * time.Millisecond
	echoGrace    = 2 * time.Second
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

var outMu, errMu sync.Mutex

// say writes one signalling line on stdout, flushed (os.Stdout is unbuffered).
func say(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// event writes one logfmt status line on stderr.
func event(format string, args ...interface{}) {
	errMu.Lock()
	defer errMu.Unlock()
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func usage(why string) {
	fmt.Fprintf(os.Stderr, "pion-ice-peer: %s\nusage: pion-ice-peer [--controlling|--controlled] "+
		"[--stun IP:PORT]... [--turn IP:PORT]... [--turn-user U --turn-pass P] [--turn-transport udp] "+
		"[--relay-only] [--bind IP]... [--nomination regular|aggressive] [--send N] [--echo] "+
		"[--restart-after S] [--timeout S]\n", why)
	os.Exit(2)
}

func hostPort(s string) (string, int) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil || net.ParseIP(host) == nil {
		usage("bad address " + s)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		usage("bad port in " + s)
	}
	return host, port
}

func addr(c ice.Candidate) string {
	return net.JoinHostPort(c.Address(), strconv.Itoa(c.Port()))
}

type options struct {
	controlling, relayOnly, echo, aggressive bool
	stun, turn, bind                         listFlag
	turnUser, turnPass                       string
	send, restartAfter, timeout              int
}

func parseArgs() options {
	var o options
	var controlled bool
	var transport, nomination string
	fs := flag.NewFlagSet("pion-ice-peer", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.BoolVar(&o.controlling, "controlling", false, "initial role controlling")
	fs.BoolVar(&controlled, "controlled", false, "initial role controlled")
	fs.Var(&o.stun, "stun", "STUN server IP:PORT (repeatable)")
	fs.Var(&o.turn, "turn", "TURN server IP:PORT (repeatable)")
	fs.StringVar(&o.turnUser, "turn-user", "", "TURN username")
	fs.StringVar(&o.turnPass, "turn-pass", "", "TURN password")
	fs.StringVar(&transport, "turn-transport", "udp", "udp|tcp|tls")
	fs.BoolVar(&o.relayOnly, "relay-only", false, "relayed candidates only")
	fs.Var(&o.bind, "bind", "host candidate address (repeatable)")
	fs.StringVar(&nomination, "nomination", "regular", "regular|aggressive")
	fs.IntVar(&o.send, "send", 0, "datagrams to send once connected")
	fs.BoolVar(&o.echo, "echo", false, "echo every datagram received")
	fs.IntVar(&o.restartAfter, "restart-after", 0, "restart ICE S seconds after connecting")
	fs.IntVar(&o.timeout, "timeout", 30, "give up after S seconds if not connected")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	switch {
	case fs.NArg() != 0:
		usage("unexpected argument " + fs.Arg(0))
	case o.controlling && controlled:
		usage("both --controlling and --controlled")
	case transport == "tcp" || transport == "tls":
		fmt.Fprintf(os.Stderr, "pion-ice-peer: --turn-transport %s: not supported\n", transport)
		os.Exit(2)
	case transport != "udp":
		usage("--turn-transport must be udp, tcp or tls")
	case nomination != "regular" && nomination != "aggressive":
		usage("--nomination must be regular or aggressive")
	case len(o.turn) > 0 && (o.turnUser == "" || o.turnPass == ""):
		usage("--turn needs --turn-user and --turn-pass")
	case o.relayOnly && len(o.turn) == 0:
		usage("--relay-only needs --turn")
	case o.send < 0 || o.restartAfter < 0 || o.timeout < 1:
		usage("negative --send/--restart-after or --timeout < 1")
	}
	// Without a role flag, as uturn-ice: controlling.
	o.controlling = !controlled
	o.aggressive = nomination == "aggressive"
	if o.aggressive && o.controlling {
		// pion/ice v2 nominates only the regular way (it can accept
		// aggressive nomination when controlled, not send it).
		fmt.Fprintln(os.Stderr, "pion-ice-peer: --nomination aggressive: not supported by pion/ice v2 when controlling")
		os.Exit(2)
	}
	return o
}

func newAgent(o options) *ice.Agent {
	var urls []*ice.URL
	for _, s := range o.stun {
		h, p := hostPort(s)
		urls = append(urls, &ice.URL{Scheme: ice.SchemeTypeSTUN, Host: h, Port: p, Proto: ice.ProtoTypeUDP})
	}
	for _, s := range o.turn {
		h, p := hostPort(s)
		urls = append(urls, &ice.URL{Scheme: ice.SchemeTypeTURN, Host: h, Port: p, Proto: ice.ProtoTypeUDP,
			Username: o.turnUser, Password: o.turnPass})
	}
	cfg := &ice.AgentConfig{
		Urls:                       urls,
		NetworkTypes:               []ice.NetworkType{ice.NetworkTypeUDP4, ice.NetworkTypeUDP6},
		MulticastDNSMode:           ice.MulticastDNSModeDisabled, // no multicast leaves the test
		LoggerFactory:              &logging.DefaultLoggerFactory{Writer: os.Stderr, DefaultLogLevel: logging.LogLevelError},
		AcceptAggressiveNomination: o.aggressive,
	}
	if o.relayOnly {
		cfg.CandidateTypes = []ice.CandidateType{ice.CandidateTypeRelay}
	}
	if len(o.bind) > 0 {
		allowed := map[string]bool{}
		for _, b := range o.bind {
			ip := net.ParseIP(b)
			if ip == nil {
				usage("bad --bind " + b)
			}
			allowed[ip.String()] = true
			cfg.IncludeLoopback = cfg.IncludeLoopback || ip.IsLoopback()
		}
		cfg.IPFilter = func(ip net.IP) bool { return allowed[ip.String()] }
	}
	a, err := ice.NewAgent(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pion-ice-peer: ice.NewAgent: %v\n", err)
		os.Exit(2)
	}
	return a
}

func announceCredentials(a *ice.Agent) {
	ufrag, pwd, err := a.GetLocalUserCredentials()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pion-ice-peer: no local credentials: %v\n", err)
		os.Exit(2)
	}
	say("a=ice-ufrag:%s", ufrag)
	say("a=ice-pwd:%s", pwd)
	say("a=ice-options:trickle")
}

func main() {
	o := parseArgs()
	a := newAgent(o)

	lines := make(chan string)
	states := make(chan ice.ConnectionState, 16)
	conns := make(chan *ice.Conn, 1)
	datagrams := make(chan []byte, 256)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	signal.Ignore(syscall.SIGPIPE) // the other peer may exit first

	if err := a.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			say("a=end-of-candidates") // gathering complete (RFC 8840)
			return
		}
		event("event=gathered type=%s address=%s", c.Type(), addr(c))
		say("a=candidate:%s", c.Marshal())
	}); err != nil {
		panic(err)
	}
	if err := a.OnSelectedCandidatePairChange(func(l, r ice.Candidate) {
		event("event=selected local_type=%s remote_type=%s local=%s remote=%s", l.Type(), r.Type(), addr(l), addr(r))
	}); err != nil {
		panic(err)
	}
	if err := a.OnConnectionStateChange(func(s ice.ConnectionState) { states <- s }); err != nil {
		panic(err)
	}

	announceCredentials(a)
	if err := a.GatherCandidates(); err != nil {
		event("event=failed reason=gather")
		os.Exit(1)
	}
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			lines <- strings.TrimRight(in.Text(), "\r")
		}
		close(lines) // end of stdin: no more remote candidates; keep running
	}()

	var (
		conn                      *ice.Conn
		connected, awaitingAnswer bool
		remoteUfrag, remotePwd    string
		pendingUfrag, pendingPwd  string
		sent, received            int
		seq                       uint32
		sendTick                  <-chan time.Time
		sendDone, restartTimer    <-chan time.Time
		ctx, cancel               = context.WithCancel(context.Background())
	)
	defer cancel()
	timeout := time.After(time.Duration(o.timeout) * time.Second)
	exit := func(code int) {
		event("event=data sent=%d received=%d", sent, received)
		cancel()
		_ = a.Close()
		os.Exit(code)
	}
	send := func(b []byte) {
		if conn != nil {
			if _, err := conn.Write(b); err != nil {
				event("level=warn event=send_failed err=%q", err)
			}
		}
		sent++
	}
	restart := func() {
		// RFC 8445 §9: new credentials, gather again; pion drops every
		// candidate and pair here (its Restart), then gathers anew.
		if err := a.Restart("", ""); err != nil {
			event("level=error event=restart_failed err=%q", err)
			return
		}
		event("event=restarted")
		announceCredentials(a)
		if err := a.GatherCandidates(); err != nil {
			event("level=error event=gather_failed err=%q", err)
		}
	}
	applyCredentials := func() {
		ufrag, pwd := pendingUfrag, pendingPwd
		pendingUfrag, pendingPwd = "", ""
		if ufrag == remoteUfrag && pwd == remotePwd {
			return
		}
		first := remoteUfrag == ""
		remoteUfrag, remotePwd = ufrag, pwd
		if first {
			go func() {
				var c *ice.Conn
				var err error
				if o.controlling {
					c, err = a.Dial(ctx, ufrag, pwd)
				} else {
					c, err = a.Accept(ctx, ufrag, pwd)
				}
				if err == nil {
					conns <- c
				}
			}()
			return
		}
		// New remote credentials are a restart (RFC 8445 §9): this side
		// restarts too unless they answer its own restart.
		if awaitingAnswer {
			awaitingAnswer = false
		} else {
			restart()
		}
		if err := a.SetRemoteCredentials(ufrag, pwd); err != nil {
			event("level=error event=bad_credentials err=%q", err)
		}
	}
	handleLine := func(line string) {
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			pendingUfrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			pendingPwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=candidate:"):
			c, err := ice.UnmarshalCandidate(strings.TrimPrefix(line, "a=candidate:"))
			if err != nil {
				event("level=error event=bad_candidate err=%q line=%q", err, line)
				return
			}
			if !c.NetworkType().IsUDP() || c.Component() != 1 {
				// RFC 8839 §5.1: a candidate this agent cannot use is ignored.
				event("level=info event=candidate_ignored reason=transport_or_component")
				return
			}
			if err := a.AddRemoteCandidate(c); err != nil {
				event("level=warn event=candidate_rejected err=%q", err)
			}
		}
		if pendingUfrag != "" && pendingPwd != "" {
			applyCredentials()
		}
	}

	for {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			handleLine(line)
		case c := <-conns:
			conn = c
			go func() {
				buf := make([]byte, 1500)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					// The contract's application datagram: 100 bytes, byte 0 0x80.
					if n == datagramSize && buf[0] == 0x80 {
						datagrams <- append([]byte(nil), buf[:n]...)
					}
				}
			}()
		case d := <-datagrams:
			received++
			if o.echo {
				send(d)
			}
		case s := <-states:
			switch s {
			case ice.ConnectionStateConnected:
				if !connected {
					connected = true
					event("event=connected")
					if o.send > 0 {
						t := time.NewTicker(sendInterval)
						defer t.Stop()
						sendTick = t.C
					}
					if o.restartAfter > 0 {
						restartTimer = time.After(time.Duration(o.restartAfter) * time.Second)
					}
				}
			case ice.ConnectionStateDisconnected:
				event("event=disconnected reason=consent")
			case ice.ConnectionStateFailed:
				if connected {
					event("event=failed reason=consent")
				} else {
					event("event=failed reason=checks")
				}
				exit(1)
			}
		case <-sendTick:
			if conn == nil {
				continue // connected, but Dial/Accept has not handed over the Conn yet
			}
			b := make([]byte, datagramSize)
			b[0] = 0x80
			binary.BigEndian.PutUint32(b[1:5], seq)
			seq++
			send(b)
			if int(seq) == o.send {
				sendTick = nil
				sendDone = time.After(echoGrace)
			}
		case <-sendDone:
			if connected && received*10 >= sent*9 {
				exit(0)
			}
			exit(1)
		case <-restartTimer:
			restartTimer = nil
			awaitingAnswer = true
			restart()
		case <-timeout:
			if !connected {
				event("event=failed reason=timeout")
				exit(1)
			}
		case <-signals:
			if connected {
				exit(0)
			}
			exit(1)
		}
	}
}
