package proxy

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// apply replaces the table's content with rs in one netlink batch.
//
// Atomicity: nf_tables applies a batch (NFNL_MSG_BATCH_BEGIN … END) as one
// transaction: every message is validated first, then the whole batch is
// committed with a single generation bump, or none of it is. Packets see
// either the old ruleset or the new one, never a table half flushed. So
// "flush every rule, flush the maps, delete stale chains and sets, add
// everything again" in one Flush has no gap (a test proves it, and that
// two transactions would fail). The table is kept rather than deleted and
// re-made so the affinity sets keep their clients; established
// connections keep their NAT in conntrack either way.
//
// Idempotent and restart-safe: it reads what the table holds now (left by
// an earlier run, the rules stay in the kernel while the agent is down) and
// removes whatever the plan does not want.
func apply(conn *nftables.Conn, name string, rs *Ruleset) error {
	table := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	oldChains, oldSets, err := existing(conn, name)
	if err != nil {
		return err
	}
	wantChain := map[string]bool{}
	for _, c := range rs.Chains {
		wantChain[c.Name] = true
	}
	wantSet := map[string]bool{}
	for _, m := range rs.Maps {
		wantSet[m.Name] = true
	}
	for _, s := range rs.Sets {
		wantSet[s.Name] = true
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if len(r.RandomGoto) > 0 {
				wantSet[randomMap(c.Name)] = true
			}
		}
	}

	conn.AddTable(table) // no-op when it exists
	conn.FlushTable(table)
	for _, s := range oldSets {
		s.Table = table
		switch {
		case !wantSet[s.Name]:
			conn.DelSet(s)
		case !s.HasTimeout && !s.Dynamic: // a map or a fixed set: refilled below; affinity sets keep their clients
			conn.FlushSet(s)
		}
	}
	for _, c := range oldChains {
		if !wantChain[c.Name] {
			c.Table = table
			conn.DelChain(c)
		}
	}

	chains := map[string]*nftables.Chain{}
	for _, c := range rs.Chains {
		nc := &nftables.Chain{Name: c.Name, Table: table}
		if c.Hook != nil {
			hook, ok := hooks[c.Hook.Hook]
			if !ok {
				return fmt.Errorf("chain %s: unknown hook %q", c.Name, c.Hook.Hook)
			}
			prio := nftables.ChainPriority(c.Hook.Priority)
			nc.Hooknum, nc.Priority, nc.Type = &hook, &prio, nftables.ChainType(c.Hook.Type)
		}
		chains[c.Name] = conn.AddChain(nc)
	}
	sets, err := addSets(conn, table, rs)
	if err != nil {
		return err
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			exprs, err := ruleExprs(sets, c.Name, r)
			if err != nil {
				return fmt.Errorf("chain %s: %w", c.Name, err)
			}
			conn.AddRule(&nftables.Rule{Table: table, Chain: chains[c.Name], Exprs: exprs})
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables transaction: %w", err)
	}
	return nil
}

// addSets adds the plan's sets and maps, and a random-<chain> map for each
// chain that picks an endpoint at random, with their elements.
func addSets(conn *nftables.Conn, table *nftables.Table, rs *Ruleset) (map[string]*nftables.Set, error) {
	sets := map[string]*nftables.Set{}
	for _, s := range rs.Sets {
		ns := &nftables.Set{Table: table, Name: s.Name, KeyType: nftables.TypeIPAddr}
		var elems []nftables.SetElement
		if s.Timeout > 0 {
			ns.Dynamic, ns.HasTimeout, ns.Timeout = true, true, s.Timeout
		}
		for _, a := range s.Addrs {
			elems = append(elems, nftables.SetElement{Key: a.AsSlice()})
		}
		if err := addSet(conn, ns, elems); err != nil {
			return nil, fmt.Errorf("set %s: %w", s.Name, err)
		}
		sets[s.Name] = ns
	}
	for _, m := range rs.Maps {
		ns := &nftables.Set{Table: table, Name: m.Name, IsMap: true, Concatenation: true, DataType: nftables.TypeVerdict}
		if m.Key == KeyAddrProtoPort {
			ns.KeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
		} else {
			ns.KeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
		}
		var elems []nftables.SetElement
		for _, e := range m.Elements {
			v, err := nftVerdict(e.Verdict)
			if err != nil {
				return nil, fmt.Errorf("map %s: %w", m.Name, err)
			}
			elems = append(elems, nftables.SetElement{Key: mapKey(e), VerdictData: v})
		}
		if err := addSet(conn, ns, elems); err != nil {
			return nil, fmt.Errorf("map %s: %w", m.Name, err)
		}
		sets[m.Name] = ns
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if len(r.RandomGoto) == 0 {
				continue
			}
			name := randomMap(c.Name)
			if sets[name] != nil {
				return nil, fmt.Errorf("chain %s: more than one numgen rule", c.Name)
			}
			// A named map, not an anonymous one: a Service with more than a
			// few hundred endpoints needs its elements in several messages,
			// and an anonymous set takes them in one only.
			m := &nftables.Set{Table: table, Name: name, Constant: false, IsMap: true,
				KeyType: nftables.TypeInteger, KeyByteOrder: binaryutil.NativeEndian, DataType: nftables.TypeVerdict}
			var elems []nftables.SetElement
			for i, to := range r.RandomGoto {
				elems = append(elems, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)),
					VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: to}})
			}
			if err := addSet(conn, m, elems); err != nil {
				return nil, fmt.Errorf("map %s: %w", name, err)
			}
			sets[name] = m
		}
	}
	return sets, nil
}

// elementsPerMessage bounds the elements of one NEWSETELEM message: they
// are nested in one netlink attribute, whose length is 16 bits, so about
// 870 verdict-map elements overflow it (and the kernel then reads garbage).
const elementsPerMessage = 256

// addSet adds a set (a no-op when it exists) and its elements, a few
// hundred per message, all in the same batch.
func addSet(conn *nftables.Conn, s *nftables.Set, elems []nftables.SetElement) error {
	if err := conn.AddSet(s, nil); err != nil {
		return err
	}
	for len(elems) > 0 {
		n := min(len(elems), elementsPerMessage)
		if err := conn.SetAddElements(s, elems[:n]); err != nil {
			return err
		}
		elems = elems[n:]
	}
	return nil
}

// existing lists the chains and named sets the table holds now (none when
// there is no table yet).
func existing(conn *nftables.Conn, name string) ([]*nftables.Chain, []*nftables.Set, error) {
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var table *nftables.Table
	for _, t := range tables {
		if t.Name == name {
			table = t
		}
	}
	if table == nil {
		return nil, nil, nil
	}
	all, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, nil, fmt.Errorf("list chains of table %s: %w", name, err)
	}
	var chains []*nftables.Chain
	for _, c := range all {
		if c.Table != nil && c.Table.Name == name {
			chains = append(chains, c)
		}
	}
	sets, err := conn.GetSets(table)
	if err != nil {
		return nil, nil, fmt.Errorf("list sets of table %s: %w", name, err)
	}
	var named []*nftables.Set
	for _, s := range sets {
		if !s.Anonymous {
			named = append(named, s)
		}
	}
	return chains, named, nil
}

// randomMap names the map a chain's numgen rule picks its endpoint from.
func randomMap(chain string) string { return "random-" + chain }

var hooks = map[string]nftables.ChainHook{
	"prerouting":  *nftables.ChainHookPrerouting,
	"input":       *nftables.ChainHookInput,
	"forward":     *nftables.ChainHookForward,
	"output":      *nftables.ChainHookOutput,
	"postrouting": *nftables.ChainHookPostrouting,
}

var protos = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}

// mapKey encodes a map key as the concatenation's registers hold it: each
// field padded to 4 bytes, the port in network byte order.
func mapKey(e Element) []byte {
	var k []byte
	if e.Addr.IsValid() {
		k = append(k, e.Addr.AsSlice()...)
	}
	k = append(k, protos[e.Proto], 0, 0, 0)
	return append(k, byte(e.Port>>8), byte(e.Port), 0, 0)
}

func nftVerdict(v Verdict) (*expr.Verdict, error) {
	switch v.Kind {
	case "jump":
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain}, nil
	case "goto":
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: v.Chain}, nil
	case "return":
		return &expr.Verdict{Kind: expr.VerdictReturn}, nil
	case "drop":
		return &expr.Verdict{Kind: expr.VerdictDrop}, nil
	}
	return nil, fmt.Errorf("unknown verdict %q", v.Kind)
}

// Registers: 1 is the first 16-byte register; a concatenation continues in
// the 4-byte registers after it (9, 10, …), as nft lays them out.
const (
	reg1   = 1
	reg2   = 2
	reg32b = 9  // second 4-byte slot of register 1
	reg32c = 10 // third
)

func ipSaddr(dreg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: dreg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

func ipDaddr(dreg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: dreg, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
}

func thDport(dreg uint32) *expr.Payload {
	return &expr.Payload{DestRegister: dreg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

func l4proto(dreg uint32) *expr.Meta { return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: dreg} }

func eq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: data} }

func port(p uint16) []byte { return binaryutil.BigEndian.PutUint16(p) }

func markOp(mask, xor uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(xor)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
	}
}

// ruleExprs translates a Rule into nftables expressions, in the order
// Rule documents: matches, statements, lookups, verdict.
func ruleExprs(sets map[string]*nftables.Set, chain string, r Rule) ([]expr.Any, error) {
	var x []expr.Any
	add := func(e ...expr.Any) { x = append(x, e...) }
	lookup := func(name string) (*expr.Lookup, error) {
		s, ok := sets[name]
		if !ok {
			return nil, fmt.Errorf("no set %q", name)
		}
		return &expr.Lookup{SourceRegister: reg1, SetName: s.Name, SetID: s.ID}, nil
	}
	if r.CtNew {
		add(&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)})
	}
	if r.SaddrLocal {
		add(&expr.Fib{Register: reg1, FlagSADDR: true, ResultADDRTYPE: true},
			eq(binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)))
	}
	if r.Saddr.IsValid() {
		add(ipSaddr(reg1), eq(r.Saddr.AsSlice()))
	}
	if r.SaddrNotIn.IsValid() {
		p := r.SaddrNotIn.Masked()
		mask := make([]byte, 4)
		binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
		if p.Bits() == 0 {
			mask = make([]byte, 4)
		}
		add(ipSaddr(reg1),
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: p.Addr().AsSlice()})
	}
	if r.SaddrInSet != "" {
		l, err := lookup(r.SaddrInSet)
		if err != nil {
			return nil, err
		}
		add(ipSaddr(reg1), l)
	}
	if r.Daddr.IsValid() {
		add(ipDaddr(reg1), eq(r.Daddr.AsSlice()))
	}
	if r.DaddrInSet != "" {
		l, err := lookup(r.DaddrInSet)
		if err != nil {
			return nil, err
		}
		add(ipDaddr(reg1), l)
	}
	if r.Proto != "" {
		p, ok := protos[r.Proto]
		if !ok {
			return nil, fmt.Errorf("unknown protocol %q", r.Proto)
		}
		add(l4proto(reg1), eq([]byte{p}))
	}
	if r.Dport != 0 {
		add(thDport(reg1), eq(port(r.Dport)))
	}
	if r.Unmarked {
		add(&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(MasqueradeMark), Xor: make([]byte, 4)},
			eq(make([]byte, 4)))
	}
	if r.ClearMark {
		add(markOp(^uint32(0), MasqueradeMark)...) // mark ^ bit
	}
	if r.SetMark {
		add(markOp(^uint32(MasqueradeMark), MasqueradeMark)...) // mark | bit
	}
	if r.UpdateSaddr != "" {
		s, ok := sets[r.UpdateSaddr]
		if !ok {
			return nil, fmt.Errorf("no set %q", r.UpdateSaddr)
		}
		add(ipSaddr(reg1), &expr.Dynset{SrcRegKey: reg1, SetName: s.Name, SetID: s.ID,
			Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: s.Timeout})
	}
	if r.Masquerade {
		add(&expr.Masq{FullyRandom: true})
	}
	if r.DNAT.IsValid() {
		add(&expr.Immediate{Register: reg1, Data: r.DNAT.Addr().AsSlice()},
			&expr.Immediate{Register: reg2, Data: port(r.DNAT.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
				RegAddrMin: reg1, RegProtoMin: reg2, Specified: true})
	}
	switch r.Reject {
	case "":
	case "tcp reset":
		add(&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	case "icmp port-unreachable":
		add(&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}) // ICMP_PORT_UNREACH
	default:
		return nil, fmt.Errorf("unknown reject %q", r.Reject)
	}
	if r.Vmap != "" {
		s, ok := sets[r.Vmap]
		if !ok {
			return nil, fmt.Errorf("no map %q", r.Vmap)
		}
		if r.VmapKey == KeyAddrProtoPort {
			add(ipDaddr(reg1), l4proto(reg32b), thDport(reg32c))
		} else {
			add(l4proto(reg1), thDport(reg32b))
		}
		add(&expr.Lookup{SourceRegister: reg1, DestRegister: 0, IsDestRegSet: true, SetName: s.Name, SetID: s.ID})
	}
	if len(r.RandomGoto) > 0 {
		m := sets[randomMap(chain)]
		add(&expr.Numgen{Register: reg1, Modulus: uint32(len(r.RandomGoto)), Type: unix.NFT_NG_RANDOM},
			&expr.Lookup{SourceRegister: reg1, DestRegister: 0, IsDestRegSet: true, SetName: m.Name, SetID: m.ID})
	}
	if r.Verdict.Kind != "" {
		v, err := nftVerdict(r.Verdict)
		if err != nil {
			return nil, err
		}
		add(v)
	}
	return x, nil
}
