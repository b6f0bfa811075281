package proxy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Table is the nftables table (family ip) the proxy owns; nothing else
// in it is kept.
const Table = "gantry"

// MasqueradeMark is the packet mark bit that asks the postrouting chain to
// masquerade (kube-proxy's 0x4000).
const MasqueradeMark = 0x4000

// Ruleset is the whole desired content of the table: what the planner
// decides and the executor writes in one transaction.
type Ruleset struct {
	Chains []Chain
	Maps   []Map
	Sets   []Set
}

// Chain is a chain of the table; Hook is set for a base chain.
type Chain struct {
	Name  string
	Hook  *Hook
	Rules []Rule
}

// Hook attaches a base chain to netfilter: its type (nat, filter), hook
// (prerouting, input, forward, output, postrouting) and priority.
type Hook struct {
	Type     string
	Hook     string
	Priority int32
}

// KeyKind is the key of a verdict map.
type KeyKind int

const (
	// KeyAddrProtoPort: ip daddr . meta l4proto . th dport
	KeyAddrProtoPort KeyKind = iota
	// KeyProtoPort: meta l4proto . th dport
	KeyProtoPort
)

// Map is a named verdict map.
type Map struct {
	Name     string
	Key      KeyKind
	Elements []Element
}

// Element is one entry of a verdict map (Addr unset for KeyProtoPort).
type Element struct {
	Addr    netip.Addr
	Proto   string // tcp, udp
	Port    uint16
	Verdict Verdict
}

// Set is a named set of IPv4 addresses: a fixed one (Addrs) or, with a
// Timeout, a dynamic one the rules fill (a ClientIP affinity set).
type Set struct {
	Name    string
	Addrs   []netip.Addr
	Timeout time.Duration
}

// Verdict ends a rule: jump or goto a chain, return, drop. The zero
// Verdict is no verdict (continue).
type Verdict struct {
	Kind  string // "", jump, goto, return, drop
	Chain string
}

func jump(chain string) Verdict   { return Verdict{Kind: "jump", Chain: chain} }
func goTo(chain string) Verdict   { return Verdict{Kind: "goto", Chain: chain} }
func verdict(kind string) Verdict { return Verdict{Kind: kind} }

// Rule is one rule: every match that is set must hold, then the
// statements run in the order of the fields, then the verdict.
type Rule struct {
	// Matches.
	CtNew      bool         // ct state new
	SaddrLocal bool         // fib saddr type local: sent by this host
	Saddr      netip.Addr   // ip saddr A
	SaddrNotIn netip.Prefix // ip saddr != P
	SaddrInSet string       // ip saddr @S
	Daddr      netip.Addr   // ip daddr A
	DaddrInSet string       // ip daddr @S
	Proto      string       // meta l4proto P
	Dport      uint16       // th dport N (with Proto)
	Unmarked   bool         // meta mark & MasqueradeMark == 0

	// Statements.
	ClearMark   bool           // meta mark set meta mark ^ MasqueradeMark (after Unmarked's return)
	SetMark     bool           // meta mark set meta mark | MasqueradeMark
	UpdateSaddr string         // update @S { ip saddr }
	Masquerade  bool           // masquerade fully-random
	DNAT        netip.AddrPort // dnat to A:P
	Reject      string         // "tcp reset" or "icmp port-unreachable"

	// Lookups that end in the verdict the map gives.
	Vmap       string   // <key of the map> vmap @M
	VmapKey    KeyKind  // the key Vmap looks up
	RandomGoto []string // numgen random mod N vmap { 0 : goto C0, ... }

	Verdict Verdict
}

// String renders the rule in nft syntax (for tests, logs and humans).
func (r Rule) String() string {
	var w []string
	add := func(f string, a ...any) { w = append(w, fmt.Sprintf(f, a...)) }
	if r.CtNew {
		add("ct state new")
	}
	if r.SaddrLocal {
		add("fib saddr type local")
	}
	if r.Saddr.IsValid() {
		add("ip saddr %s", r.Saddr)
	}
	if r.SaddrNotIn.IsValid() {
		add("ip saddr != %s", r.SaddrNotIn)
	}
	if r.SaddrInSet != "" {
		add("ip saddr @%s", r.SaddrInSet)
	}
	if r.Daddr.IsValid() {
		add("ip daddr %s", r.Daddr)
	}
	if r.DaddrInSet != "" {
		add("ip daddr @%s", r.DaddrInSet)
	}
	if r.Proto != "" {
		add("meta l4proto %s", r.Proto)
	}
	if r.Dport != 0 {
		add("th dport %d", r.Dport)
	}
	if r.Unmarked {
		add("meta mark & %#x == 0", MasqueradeMark)
	}
	if r.ClearMark {
		add("meta mark set meta mark ^ %#x", MasqueradeMark)
	}
	if r.SetMark {
		add("meta mark set meta mark | %#x", MasqueradeMark)
	}
	if r.UpdateSaddr != "" {
		add("update @%s { ip saddr }", r.UpdateSaddr)
	}
	if r.Masquerade {
		add("masquerade fully-random")
	}
	if r.DNAT.IsValid() {
		add("dnat to %s", r.DNAT)
	}
	if r.Reject != "" {
		add("reject with %s", r.Reject)
	}
	if r.Vmap != "" {
		if r.VmapKey == KeyAddrProtoPort {
			add("ip daddr . meta l4proto . th dport vmap @%s", r.Vmap)
		} else {
			add("meta l4proto . th dport vmap @%s", r.Vmap)
		}
	}
	if len(r.RandomGoto) > 0 {
		var e []string
		for i, c := range r.RandomGoto {
			e = append(e, fmt.Sprintf("%d : goto %s", i, c))
		}
		add("numgen random mod %d vmap { %s }", len(r.RandomGoto), strings.Join(e, ", "))
	}
	if r.Verdict.Kind != "" {
		add("%s", r.Verdict)
	}
	return strings.Join(w, " ")
}

func (v Verdict) String() string {
	if v.Chain == "" {
		return v.Kind
	}
	return v.Kind + " " + v.Chain
}

func (e Element) String() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("%s . %s . %d : %s", e.Addr, e.Proto, e.Port, e.Verdict)
	}
	return fmt.Sprintf("%s . %d : %s", e.Proto, e.Port, e.Verdict)
}

// Chain returns the named chain, or nil.
func (rs *Ruleset) Chain(name string) *Chain {
	for i := range rs.Chains {
		if rs.Chains[i].Name == name {
			return &rs.Chains[i]
		}
	}
	return nil
}

// Map returns the named map, or nil.
func (rs *Ruleset) Map(name string) *Map {
	for i := range rs.Maps {
		if rs.Maps[i].Name == name {
			return &rs.Maps[i]
		}
	}
	return nil
}

// String renders the ruleset roughly as `nft list table ip gantry` would.
func (rs *Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", Table)
	for _, s := range rs.Sets {
		fmt.Fprintf(&b, "\tset %s { type ipv4_addr;", s.Name)
		if s.Timeout > 0 {
			fmt.Fprintf(&b, " flags dynamic,timeout; timeout %s;", s.Timeout)
		}
		if len(s.Addrs) > 0 {
			var a []string
			for _, x := range s.Addrs {
				a = append(a, x.String())
			}
			fmt.Fprintf(&b, " elements = { %s };", strings.Join(a, ", "))
		}
		b.WriteString(" }\n")
	}
	for _, m := range rs.Maps {
		fmt.Fprintf(&b, "\tmap %s {\n", m.Name)
		for _, e := range m.Elements {
			fmt.Fprintf(&b, "\t\t%s\n", e)
		}
		b.WriteString("\t}\n")
	}
	for _, c := range rs.Chains {
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		if c.Hook != nil {
			fmt.Fprintf(&b, "\t\ttype %s hook %s priority %d;\n", c.Hook.Type, c.Hook.Hook, c.Hook.Priority)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}
