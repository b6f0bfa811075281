package manifest

import (
	"fmt"
	"strings"
)

// ParseLabelSelector parses kubectl's selector syntax (`-l`, `--selector`)
// into a LabelSelector. Terms are comma-separated and ANDed:
//
//	a=b, a==b     matchLabels a: b (an In requirement if a is already matched)
//	a!=b          a NotIn (b): also true where a is absent, as in Kubernetes
//	a in (x,y)    a In (x, y)
//	a notin (x)   a NotIn (x)
//	a             a Exists
//	!a            a DoesNotExist
//
// Whitespace between tokens is ignored. Keys and values are checked as
// Kubernetes checks label keys and values; an error names the term and the
// 1-based column where parsing failed. The empty string selects everything.
// Kubernetes' `a>1`/`a<1` are refused: label selectors here have no Gt/Lt.
func ParseLabelSelector(s string) (LabelSelector, error) {
	p := selectorParser{toks: lexSelector(s)}
	var sel LabelSelector
	if p.peek().kind == tokEnd {
		return sel, nil
	}
	for term := 1; ; term++ {
		if err := p.term(&sel); err != nil {
			return LabelSelector{}, fmt.Errorf("selector %q: term %d: %w", s, term, err)
		}
		switch t := p.next(); t.kind {
		case tokEnd:
			return sel, nil
		case tokComma:
		default:
			return LabelSelector{}, fmt.Errorf("selector %q: term %d: at column %d: found %q, want ',' or the end", s, term, t.col(), t.text)
		}
	}
}

type selectorTokKind int

const (
	tokEnd selectorTokKind = iota
	tokIdent
	tokComma
	tokOpen
	tokClose
	tokBang
	tokEq       // = or ==
	tokNotEq    // !=
	tokGtLt     // > or <, refused
	tokIn       // the keyword in
	tokNotIn    // the keyword notin
	tokBadEqual // ===, !==
)

type selectorTok struct {
	kind selectorTokKind
	text string
	pos  int // byte offset in the source
}

func (t selectorTok) col() int { return t.pos + 1 }

// lexSelector splits a selector into tokens. An identifier is a run of any
// characters but whitespace and ",()!=<>", as in Kubernetes' lexer, so a
// bad character inside a key or value is reported by its validation.
func lexSelector(s string) []selectorTok {
	var toks []selectorTok
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ',':
			toks = append(toks, selectorTok{tokComma, ",", i})
			i++
		case c == '(':
			toks = append(toks, selectorTok{tokOpen, "(", i})
			i++
		case c == ')':
			toks = append(toks, selectorTok{tokClose, ")", i})
			i++
		case c == '<' || c == '>':
			toks = append(toks, selectorTok{tokGtLt, string(c), i})
			i++
		case c == '!' || c == '=':
			j := i + 1
			for j < len(s) && s[j] == '=' {
				j++
			}
			op := s[i:j]
			kind := tokBadEqual
			switch op {
			case "!":
				kind = tokBang
			case "=", "==":
				kind = tokEq
			case "!=":
				kind = tokNotEq
			}
			toks = append(toks, selectorTok{kind, op, i})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r,()!=<>", rune(s[j])) {
				j++
			}
			word := s[i:j]
			kind := tokIdent
			switch word {
			case "in":
				kind = tokIn
			case "notin":
				kind = tokNotIn
			}
			toks = append(toks, selectorTok{kind, word, i})
			i = j
		}
	}
	return append(toks, selectorTok{tokEnd, "", len(s)})
}

type selectorParser struct {
	toks []selectorTok
	at   int
}

func (p *selectorParser) peek() selectorTok { return p.toks[p.at] }

func (p *selectorParser) next() selectorTok {
	t := p.toks[p.at]
	if t.kind != tokEnd {
		p.at++
	}
	return t
}

// describeTok names a token for an error message.
func describeTok(t selectorTok) string {
	if t.kind == tokEnd {
		return "the end"
	}
	return fmt.Sprintf("%q", t.text)
}

// term parses one requirement and adds it to sel.
func (p *selectorParser) term(sel *LabelSelector) error {
	if t := p.peek(); t.kind == tokBang {
		p.next()
		key, err := p.key()
		if err != nil {
			return err
		}
		sel.MatchExpressions = append(sel.MatchExpressions, LabelSelectorRequirement{Key: key, Operator: OpDoesNotExist})
		return nil
	}
	key, err := p.key()
	if err != nil {
		return err
	}
	switch t := p.peek(); t.kind {
	case tokEnd, tokComma:
		sel.MatchExpressions = append(sel.MatchExpressions, LabelSelectorRequirement{Key: key, Operator: OpExists})
	case tokEq, tokNotEq:
		p.next()
		v, err := p.value()
		if err != nil {
			return err
		}
		switch {
		case t.kind == tokNotEq:
			sel.MatchExpressions = append(sel.MatchExpressions, LabelSelectorRequirement{Key: key, Operator: OpNotIn, Values: []string{v}})
		case sel.MatchLabels == nil:
			sel.MatchLabels = map[string]string{key: v}
		default:
			if _, dup := sel.MatchLabels[key]; dup {
				// a=b,a=c must match nothing, not overwrite b: keep both.
				sel.MatchExpressions = append(sel.MatchExpressions, LabelSelectorRequirement{Key: key, Operator: OpIn, Values: []string{v}})
			} else {
				sel.MatchLabels[key] = v
			}
		}
	case tokIn, tokNotIn:
		p.next()
		vs, err := p.values()
		if err != nil {
			return err
		}
		op := OpIn
		if t.kind == tokNotIn {
			op = OpNotIn
		}
		sel.MatchExpressions = append(sel.MatchExpressions, LabelSelectorRequirement{Key: key, Operator: op, Values: vs})
	case tokGtLt:
		return fmt.Errorf("at column %d: %q is not supported in label selectors: want =, ==, !=, in, notin or nothing after key %q", t.col(), t.text, key)
	default:
		return fmt.Errorf("at column %d: found %s after key %q, want =, ==, !=, in, notin, ',' or the end", t.col(), describeTok(t), key)
	}
	return nil
}

// key reads and validates a label key.
func (p *selectorParser) key() (string, error) {
	t := p.next()
	if t.kind != tokIdent && t.kind != tokIn && t.kind != tokNotIn {
		return "", fmt.Errorf("at column %d: found %s, want a label key", t.col(), describeTok(t))
	}
	if problem := LabelKeyProblem(t.text); problem != "" {
		return "", fmt.Errorf("at column %d: %s", t.col(), problem)
	}
	return t.text, nil
}

// value reads and validates the value after = or !=; it may be empty
// (a= selects labels a with the empty value), as in Kubernetes.
func (p *selectorParser) value() (string, error) {
	t := p.peek()
	switch t.kind {
	case tokEnd, tokComma, tokClose:
		return "", nil
	case tokIdent, tokIn, tokNotIn:
		p.next()
		if problem := LabelValueProblem(t.text); problem != "" {
			return "", fmt.Errorf("at column %d: %s", t.col(), problem)
		}
		return t.text, nil
	}
	return "", fmt.Errorf("at column %d: found %s, want a label value", t.col(), describeTok(t))
}

// values reads "(v1, v2, …)"; as in Kubernetes an empty entry is the empty
// value, so "a in ()" selects labels a with the empty value.
func (p *selectorParser) values() ([]string, error) {
	if t := p.next(); t.kind != tokOpen {
		return nil, fmt.Errorf("at column %d: found %s, want '('", t.col(), describeTok(t))
	}
	var vs []string
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		switch t := p.next(); t.kind {
		case tokComma:
		case tokClose:
			return vs, nil
		default:
			return nil, fmt.Errorf("at column %d: found %s, want ',' or ')'", t.col(), describeTok(t))
		}
	}
}
