package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/vigil-go/vigil/internal/status"
)

// DNS asks a resolver for a name (replica URL dns://resolver[:port]/name?type=A).
//
// It sends one query, recursion desired, over UDP to the first address of
// Server (resolved as TCP resolves its host), and asks again over TCP only
// if that answer is truncated. The query carries no EDNS option: every
// resolver answers a plain query, and an answer over 512 bytes costs only
// the TCP retry. The replica is healthy when the rcode is NOERROR and the
// answer holds a record of Type (Expect matching one of their values, if
// set); records of other types, such as the CNAMEs of a chain, are passed
// over. Latency is the round trip of the exchange (both, after a truncation).
type DNS struct {
	Server     string         // resolver host: name or IP literal, without IPv6 brackets
	Port       string         // resolver port, "53" normally (the config fills the default)
	Name       string         // name to query, e.g. "example.com" (the probe makes it fully qualified)
	Type       string         // record type: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or CAA (upper case)
	Expect     *regexp.Regexp // nil: any answer of Type is healthy; else at least one answer's value must match
	Timeout    time.Duration  // poll_delay_dead, bounding the whole check; <= 0: ctx alone bounds it
	SourceAddr net.IP         // local IP to send from; nil: the system's choice
}

// dnsTypes are the record types a DNS probe may ask for: those whose answer
// says something about a service. Meta types (ANY, AXFR, OPT) are left out
// on purpose; a resolver may refuse ANY (RFC 8482) and AXFR is not a query.
var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX,
	"NS": dns.TypeNS, "PTR": dns.TypePTR, "SOA": dns.TypeSOA, "SRV": dns.TypeSRV,
	"TXT": dns.TypeTXT, "CAA": dns.TypeCAA,
}

const (
	// dnsShownAnswers is how many answers a reason lists before "and N more":
	// enough to see what the resolver said, short enough for a status line.
	dnsShownAnswers = 3
	// dnsShownValue is how many characters of one value a reason shows; a
	// DKIM key or an SPF record would otherwise fill the line.
	dnsShownValue = 64
	// dnsNoLimit replaces the library's 2 s default for each of dial, write
	// and read: the probe's ctx, which carries Timeout, is the one bound.
	// Go's deadlines saturate, so the sum with the current time is safe.
	dnsNoLimit = time.Duration(math.MaxInt64)
)

// Probe sends the query and judges the answer.
func (d *DNS) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, d.Timeout)
	defer cancel()
	name := d.Name
	if name == "" {
		name = "."
	}
	op := func(addr string) string {
		return "DNS " + d.Type + " " + name + " @" + target(d.Server, d.Port, addr)
	}

	qtype, ok := dnsTypes[d.Type]
	if !ok {
		return dead(0, op("")+": record type "+strconv.Quote(d.Type)+" not supported, want A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or CAA")
	}
	fqdn := dns.Fqdn(d.Name)
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return dead(0, op("")+": not a valid domain name")
	}
	m := new(dns.Msg).SetQuestion(fqdn, qtype) // sets RD

	start := time.Now()
	addr, err := firstAddr(ctx, d.Server, d.Port, d.SourceAddr)
	if err != nil {
		return dead(time.Since(start), op(addr)+": "+errorText(ctx, err, d.Timeout))
	}

	start = time.Now()
	r, rtt, err := d.exchange(ctx, "udp", addr, m)
	// A truncated answer goes to TCP even if it did not parse: a server may
	// cut it in the middle of a record.
	retried := r != nil && r.Truncated
	if retried {
		var tcpRTT time.Duration
		r, tcpRTT, err = d.exchange(ctx, "tcp", addr, m)
		rtt += tcpRTT
	}
	if err == nil && r == nil {
		err = errors.New("no answer") // not expected of the library, but no reason to panic
	}
	if err != nil {
		text := dnsErrorText(ctx, err, d.Timeout)
		if retried {
			text = "UDP answer truncated; over TCP: " + text
		}
		return dead(time.Since(start), op(addr)+": "+text)
	}

	if r.Rcode != dns.RcodeSuccess {
		return dead(rtt, op(addr)+": "+rcodeText(r.Rcode))
	}
	var values, others []string
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype {
			values = append(values, dnsValue(rr))
		} else {
			others = append(others, dns.TypeToString[rr.Header().Rrtype]+" "+dnsValue(rr))
		}
	}
	if len(values) == 0 {
		reason := op(addr) + ": no " + d.Type + " record in the answer"
		if len(others) > 0 {
			// Usually a CNAME whose target the resolver could not follow:
			// its name tells where to look.
			reason += " (" + shortList(others) + ")"
		}
		return dead(rtt, reason)
	}
	if d.Expect != nil && !slices.ContainsFunc(values, d.Expect.MatchString) {
		if len(values) == 1 {
			return dead(rtt, op(addr)+": answer "+shortValue(values[0])+" does not match "+d.Expect.String())
		}
		return dead(rtt, op(addr)+": answers "+shortList(values)+"; none matches "+d.Expect.String())
	}
	return Result{Health: status.Healthy, Latency: rtt}
}

// exchange sends m to addr over network ("udp" or "tcp") and reads the answer.
func (d *DNS) exchange(ctx context.Context, network, addr string, m *dns.Msg) (*dns.Msg, time.Duration, error) {
	dialer := &net.Dialer{}
	if d.SourceAddr != nil {
		if network == "tcp" {
			dialer.LocalAddr = &net.TCPAddr{IP: d.SourceAddr}
		} else {
			dialer.LocalAddr = &net.UDPAddr{IP: d.SourceAddr}
		}
	}
	c := &dns.Client{Net: network, Dialer: dialer, Timeout: dnsNoLimit}
	conn, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	// The library bounds the exchange by ctx's deadline but does not watch
	// for cancellation (shutdown, reload). Closing the connection when ctx
	// ends covers that; unlike a deadline set from here, a close cannot be
	// undone by the deadlines the library sets itself before writing.
	raw := conn.Conn
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	return c.ExchangeWithConnContext(ctx, m, conn)
}

// dnsErrorText words a failed exchange as exchangeErrorText does ("read udp
// 127.0.0.1:41000->10.0.0.2:53: read: connection refused" keeps only its
// cause), without the library's "dns: " prefix.
func dnsErrorText(ctx context.Context, err error, d time.Duration) string {
	if ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return "connection closed before the answer"
	}
	return strings.TrimPrefix(exchangeErrorText(ctx, err, d), "dns: ")
}

// rcodeText names a response code the way dig prints it ("NXDOMAIN").
func rcodeText(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "rcode " + strconv.Itoa(rcode)
}

// dnsValue is what Expect is matched against: the record's data as a person
// would write it, without owner name, TTL, class or type.
func dnsValue(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		return rr.A.String()
	case *dns.AAAA:
		return rr.AAAA.String()
	case *dns.CNAME:
		return rr.Target
	case *dns.NS:
		return rr.Ns
	case *dns.PTR:
		return rr.Ptr
	case *dns.MX:
		return strconv.Itoa(int(rr.Preference)) + " " + rr.Mx
	case *dns.SRV:
		return fmt.Sprintf("%d %d %d %s", rr.Priority, rr.Weight, rr.Port, rr.Target)
	case *dns.TXT:
		var b strings.Builder
		for _, s := range rr.Txt {
			b.WriteString(unescapeTXT(s))
		}
		return b.String()
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// unescapeTXT undoes the escaping miekg/dns applies to the TXT strings it
// reads (\" and \\ for a quote and a backslash, \DDD for a byte outside
// printable ASCII), so that Expect sees the bytes that were published,
// UTF-8 text included.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// shortList joins the first dnsShownAnswers values for a reason:
// "1.2.3.4, 5.6.7.8, 9.9.9.9 and 2 more".
func shortList(values []string) string {
	shown := make([]string, 0, dnsShownAnswers)
	for _, v := range values[:min(len(values), dnsShownAnswers)] {
		shown = append(shown, shortValue(v))
	}
	s := strings.Join(shown, ", ")
	if n := len(values) - len(shown); n > 0 {
		s += " and " + strconv.Itoa(n) + " more"
	}
	return s
}

// shortValue cuts a value to dnsShownValue characters, at a character
// boundary.
func shortValue(v string) string {
	if utf8.RuneCountInString(v) <= dnsShownValue {
		return v
	}
	return string([]rune(v)[:dnsShownValue-1]) + "…"
}
