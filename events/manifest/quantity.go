package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Quantity is a Kubernetes resource quantity ("500m", "1.5", "128Mi", "1e3"),
// kept as written and parsed on demand.
type Quantity struct {
	s     string
	milli int64 // value × 1000, rounded up like Kubernetes' MilliValue
}

// suffixes and their multipliers, as Kubernetes defines them.
var binarySuffixes = map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}

var decimalSuffixes = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

// ParseQuantity parses Kubernetes quantity syntax: a signed decimal number
// followed by a binary suffix (Ki…Ei), a decimal suffix (n u m k M G T P E)
// or a decimal exponent (e3, E-2).
func ParseQuantity(s string) (Quantity, error) {
	if s == "" {
		return Quantity{}, fmt.Errorf("quantity is empty")
	}
	if len(s) > 64 {
		return Quantity{}, fmt.Errorf("quantity %q is too long", s)
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if digits == 0 {
		return Quantity{}, fmt.Errorf("quantity %q must start with a number", s)
	}
	num, suffix := s[:i], s[i:]
	r, ok := new(big.Rat).SetString(strings.TrimPrefix(num, "+"))
	if !ok {
		return Quantity{}, fmt.Errorf("quantity %q: bad number %q", s, num)
	}
	switch {
	case binarySuffixes[suffix] != 0:
		r.Mul(r, new(big.Rat).SetInt64(binarySuffixes[suffix]))
	case suffix == "" || isDecimalSuffix(suffix):
		r.Mul(r, pow10(decimalSuffixes[suffix]))
	case suffix[0] == 'e' || suffix[0] == 'E':
		var exp int
		if _, err := fmt.Sscanf(suffix[1:], "%d", &exp); err != nil || fmt.Sprint(exp) != strings.TrimPrefix(suffix[1:], "+") || exp > 30 || exp < -30 {
			return Quantity{}, fmt.Errorf("quantity %q: bad exponent %q", s, suffix)
		}
		r.Mul(r, pow10(exp))
	default:
		return Quantity{}, fmt.Errorf("quantity %q: unknown suffix %q (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent)", s, suffix)
	}
	r.Mul(r, big.NewRat(1000, 1))
	// round up to a whole milli-unit, as Kubernetes does
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() || q.Int64() > math.MaxInt64/2 || q.Int64() < math.MinInt64/2 {
		return Quantity{}, fmt.Errorf("quantity %q is too large", s)
	}
	return Quantity{s: s, milli: q.Int64()}, nil
}

func isDecimalSuffix(s string) bool { _, ok := decimalSuffixes[s]; return ok }

func pow10(e int) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(e))), nil)
	if e < 0 {
		return new(big.Rat).SetFrac(big.NewInt(1), p)
	}
	return new(big.Rat).SetInt(p)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// MustQuantity parses s and panics on error; for tests and constants.
func MustQuantity(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(err)
	}
	return q
}

// String is the quantity as written.
func (q Quantity) String() string { return q.s }

// IsZero reports an unset quantity.
func (q Quantity) IsZero() bool { return q.s == "" }

// MilliValue is the value × 1000, rounded up (cpu in millicores).
func (q Quantity) MilliValue() int64 { return q.milli }

// Value is the value rounded up to a whole unit (memory in bytes).
func (q Quantity) Value() int64 {
	v := q.milli / 1000
	if q.milli%1000 > 0 {
		v++
	}
	return v
}

// MarshalJSON writes the quantity as its string.
func (q Quantity) MarshalJSON() ([]byte, error) {
	if plain(q.s) { // every parsed quantity: no escaping needed
		return append(append(append(make([]byte, 0, len(q.s)+2), '"'), q.s...), '"'), nil
	}
	return json.Marshal(q.s)
}

// UnmarshalJSON accepts a string ("500m") or a number (2), as Kubernetes does.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && plain(string(b[1:len(b)-1])) {
		s = string(b[1 : len(b)-1]) // the usual case: every pod's requests are read this way
	} else if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("quantity must be a string or a number: %w", err)
		}
		s = n.String()
	}
	p, err := ParseQuantity(s)
	if err != nil {
		return err
	}
	*q = p
	return nil
}

// plain reports whether s is made only of characters a quantity can hold
// (digits, letters, '.', '+', '-'), which JSON writes as they are.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}
