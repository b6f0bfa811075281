package manifest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLabelSelector(t *testing.T) {
	req := func(key, op string, values ...string) LabelSelectorRequirement {
		return LabelSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	exprs := func(rs ...LabelSelectorRequirement) LabelSelector {
		return LabelSelector{MatchExpressions: rs}
	}
	tests := []struct {
		in   string
		want LabelSelector
	}{
		{"", LabelSelector{}},
		{"   ", LabelSelector{}},
		{"app=hello", LabelSelector{MatchLabels: map[string]string{"app": "hello"}}},
		{"app==hello", LabelSelector{MatchLabels: map[string]string{"app": "hello"}}},
		{" app = hello , tier=web ", LabelSelector{MatchLabels: map[string]string{"app": "hello", "tier": "web"}}},
		{"app=", LabelSelector{MatchLabels: map[string]string{"app": ""}}},
		{"app=a,app=b", LabelSelector{MatchLabels: map[string]string{"app": "a"}, MatchExpressions: []LabelSelectorRequirement{req("app", OpIn, "b")}}},
		{"app!=hello", exprs(req("app", OpNotIn, "hello"))},
		{"env in (prod, staging)", exprs(req("env", OpIn, "prod", "staging"))},
		{"env in(prod)", exprs(req("env", OpIn, "prod"))},
		{"env notin (dev)", exprs(req("env", OpNotIn, "dev"))},
		{"env in ()", exprs(req("env", OpIn, ""))},
		{"env in (a,)", exprs(req("env", OpIn, "a", ""))},
		{"app", exprs(req("app", OpExists))},
		{"!app", exprs(req("app", OpDoesNotExist))},
		{"! app", exprs(req("app", OpDoesNotExist))},
		{"example.com/tier=web,!canary,track notin (beta),app", LabelSelector{
			MatchLabels:      map[string]string{"example.com/tier": "web"},
			MatchExpressions: []LabelSelectorRequirement{req("canary", OpDoesNotExist), req("track", OpNotIn, "beta"), req("app", OpExists)},
		}},
		{"in=notin", LabelSelector{MatchLabels: map[string]string{"in": "notin"}}},
		{"App_Key=My_App-1.0", LabelSelector{MatchLabels: map[string]string{"App_Key": "My_App-1.0"}}},
		{"app=My_App-1.0", LabelSelector{MatchLabels: map[string]string{"app": "My_App-1.0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLabelSelector(tt.in)
			if err != nil {
				t.Fatalf("ParseLabelSelector(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLabelSelector(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// The parsed selector selects what kubectl's would.
func TestParseLabelSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "hello", "env": "prod"}
	tests := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"app=hello", true},
		{"app=hello,env=dev", false},
		{"app=hello,app=other", false},
		{"app!=other", true},
		{"track!=beta", true},
		{"env in (dev,prod)", true},
		{"env notin (prod)", false},
		{"app,!track", true},
		{"!app", false},
	}
	for _, tt := range tests {
		sel, err := ParseLabelSelector(tt.in)
		if err != nil {
			t.Fatalf("ParseLabelSelector(%q): %v", tt.in, err)
		}
		if got := sel.Matches(labels); got != tt.want {
			t.Errorf("%q matches %v = %v, want %v", tt.in, labels, got, tt.want)
		}
	}
}

func TestParseLabelSelectorErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // a part of the error
	}{
		{"app=hello,", "term 2: at column 11: found the end, want a label key"},
		{",app", "term 1: at column 1: found \",\", want a label key"},
		{"app===hello", "term 1: at column 4: found \"===\""},
		{"app=hello world", "term 1: at column 11: found \"world\", want ',' or the end"},
		{"app in hello", "term 1: at column 8: found \"hello\", want '('"},
		{"app in (a b)", "term 1: at column 11: found \"b\", want ',' or ')'"},
		{"app in (a", "term 1: at column 10: found the end, want ',' or ')'"},
		{"app>1", "term 1: at column 4: \">\" is not supported"},
		{"!app=x", "term 1: at column 5: found \"=\", want ',' or the end"},
		{"a,b@d!=x", "term 2: at column 3: invalid key \"b@d\""},
		{"a,example.com/=x", "term 2: at column 3: invalid key \"example.com/\""},
		{"a,-bad=x", "term 2: at column 3: invalid key \"-bad\""},
		{"app=-x", "term 1: at column 5: invalid value \"-x\""},
		{"app in (ok, b@d)", "term 1: at column 13: invalid value \"b@d\""},
		{"app=" + strings.Repeat("x", 64), "must be no more than 63 characters"},
		{"(app)", "term 1: at column 1: found \"(\", want a label key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseLabelSelector(tt.in)
			if err == nil {
				t.Fatalf("ParseLabelSelector(%q) succeeded, want an error with %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseLabelSelector(%q) = %v, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}
