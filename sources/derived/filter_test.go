package derived

import (
	"strings"
	"testing"
	"time"
)

func TestFilterMatches(t *testing.T) {
	host := &Host{Name: "web-1.example.com", Enabled: true, Groups: []string{"web", "linux"}, Inventory: "prod", InventoryID: "id-1",
		Sources: []string{"ec2"}, Vars: map[string]any{
			"env": "prod", "cpus": int64(4), "load": 0.5, "flag": true, "none": nil, "empty": "",
			"a":    map[string]any{"b": map[string]any{"c": 3.14}},
			"tags": []any{map[string]any{"k": "x"}, map[string]any{"k": "y"}},
			"nums": []any{int64(1), int64(2)},
			"s":    "3",
		}}
	for filter, want := range map[string]bool{
		"name=web-1.example.com":                           true,
		`name="web-1.example.com"`:                         true,
		"name__startswith=web and groups__name=web":        true,
		"groups__name=db":                                  false,
		"groups__name=db or groups__name=linux":            true,
		"a=1 or groups__name=web and name=nope":            false, // and binds tighter; unknown... see below
		"not groups__name=db":                              true,
		"not (groups__name=web or groups__name=db)":        false,
		"enabled=true":                                     true,
		"enabled=false":                                    false,
		"inventory__name=prod and inventory=id-1":          true,
		"source__name=ec2":                                 true,
		"variables__env=prod":                              true,
		"ansible_facts__env=prod":                          true,
		"variables__cpus=4":                                true,
		`variables__cpus="4"`:                              false, // quoted stays a string
		"variables__s=3":                                   false, // a string is not a number
		`variables__s="3"`:                                 true,
		"variables__cpus__gte=4 and variables__cpus__lt=5": true,
		"variables__load__gt=0.4":                          true,
		"variables__a__b__c=3.14":                          true,
		"variables__flag=true":                             true,
		"variables__none=null":                             true,
		"variables__none__isnull=true":                     true,
		"variables__missing__isnull=true":                  true,
		"variables__env__isnull=true":                      false,
		"variables__empty=":                                true,
		"variables__env__in=dev,prod":                      true,
		"variables__env__regex=^pr.d$":                     true,
		"variables__env__iregex=^PROD$":                    true,
		"variables__tags[]__k=y":                           true,
		"variables__tags[]__k=z":                           false,
		"variables__nums__contains=2":                      true,
		"name__icontains=EXAMPLE":                          true,
		"name__endswith=.com":                              true,
	} {
		if strings.HasPrefix(filter, "a=1") {
			continue // "a" is no key: checked in TestFilterErrors
		}
		f, err := ParseFilter(filter)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", filter, err)
			continue
		}
		if got := f.Match(host); got != want {
			t.Errorf("%q matches = %v, want %v", filter, got, want)
		}
	}
	// Precedence: and binds tighter than or.
	f, err := ParseFilter("name=x or groups__name=web and name=nope")
	if err != nil || f.Match(host) {
		t.Errorf("precedence: %v %v", err, f)
	}
	f, _ = ParseFilter("(name=x or groups__name=web) and name__startswith=web")
	if !f.Match(host) {
		t.Error("parentheses")
	}
}

func TestFilterErrors(t *testing.T) {
	for filter, want := range map[string]string{
		"":                         "empty",
		"name":                     `at 4: unexpected "end" after "name"; expected =`,
		"name__containz=x":         `unknown lookup "containz"; did you mean "contains"?`,
		"variables__a__containz=1": "", // a path key named containz: valid
		"a=1":                      `at 0: unknown key "a"`,
		"search=x":                 "search= is not supported",
		"name=x and":               "at 10: unexpected",
		"(name=x":                  "expected )",
		`name="x`:                  "unterminated",
		`variables__x__regex="("`:  "invalid regex",
		"ansible_facts__x__gt=1":   "exact matches only",
		"enabled__contains=t":      "exact matches only",
		"variables=1":              "needs a path",
		"name=x )":                 `unexpected ")"`,
	} {
		_, err := ParseFilter(filter)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseFilter(%q): %v", filter, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ParseFilter(%q) = %v, want an error with %q", filter, err, want)
		}
	}
}

func TestFilterBounds(t *testing.T) {
	terms := strings.Repeat("name=x or ", MaxFilterTerms) + "name=y"
	if _, err := ParseFilter(terms); err == nil || !strings.Contains(err.Error(), "terms") {
		t.Errorf("%d terms: %v", MaxFilterTerms+1, err)
	}
	if _, err := ParseFilter(strings.Repeat("name=x or ", MaxFilterTerms-1) + "name=y"); err != nil {
		t.Errorf("%d terms: %v", MaxFilterTerms, err)
	}
	deep := strings.Repeat("(", MaxFilterDepth+1) + "name=x" + strings.Repeat(")", MaxFilterDepth+1)
	if _, err := ParseFilter(deep); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("depth %d: %v", MaxFilterDepth+1, err)
	}
	nots := strings.Repeat("not ", MaxFilterDepth+1) + "name=x"
	if _, err := ParseFilter(nots); err == nil {
		t.Error("nots beyond the depth were accepted")
	}
	if _, err := ParseFilter("name=" + strings.Repeat("x", MaxFilterBytes)); err == nil {
		t.Error("a filter over the byte limit was accepted")
	}
	if _, err := ParseFilter("variables__x__regex=" + strings.Repeat("a", MaxRegexBytes+1)); err == nil {
		t.Error("a regex over its limit was accepted")
	}
	// A catastrophic regex for backtracking engines runs linear (RE2).
	f, err := ParseFilter(`variables__x__regex="(a+)+$"`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.Match(&Host{Vars: map[string]any{"x": strings.Repeat("a", 100000) + "!"}})
	if d := time.Since(start); d > time.Second {
		t.Errorf("(a+)+$ took %s", d)
	}
}

func FuzzHostFilter(f *testing.F) {
	for _, s := range []string{"name=x and not (groups__name=y or variables__a__b__gt=3)", `variables__t[]__k__in="a,b"`, "((((", "not not not"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			return
		}
		flt.Match(&Host{Name: "n", Groups: []string{"g"}, Vars: map[string]any{"a": map[string]any{"b": int64(1)}, "t": []any{"x"}}})
	})
}

func TestPattern(t *testing.T) {
	groups := map[string]bool{"web": true, "os_linux": true, "envs": true}
	for pattern, want := range map[string]bool{
		"web":           true,
		"db":            false,
		"web:!os_linux": false,
		"all:!db":       true,
		"web:&os_*":     true,
		"web:&db":       false,
		"db,h1":         true,
		"h*":            true,
		"!web":          false,
		"env?":          true,
	} {
		p, err := ParsePattern(pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", pattern, err)
			continue
		}
		if got := p.Match("h1", groups); got != want {
			t.Errorf("%q matches h1 = %v, want %v", pattern, got, want)
		}
	}
	for _, bad := range []string{"~web.*", "web[0:2]", "web[1]", "", ":::"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) accepted", bad)
		}
	}
}
