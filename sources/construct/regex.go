package construct

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jmespath/go-jmespath"
)

// regexCache holds compiled regular expressions and JMESPath queries of
// one Constructor. Patterns are nearly always literals, so it stays small;
// it is safe for concurrent use.
type regexCache struct {
	mu   sync.RWMutex
	re   map[string]*regexp.Regexp
	jp   map[string]*jmespath.JMESPath
	errs map[string]error
}

const maxCacheEntries = 256

func newRegexCache() *regexCache {
	return &regexCache{re: map[string]*regexp.Regexp{}, jp: map[string]*jmespath.JMESPath{}, errs: map[string]error{}}
}

// regexp compiles a Python regular expression with the given flags.
// Python syntax is close to RE2's; what RE2 lacks (look-arounds,
// back-references) is an error.
func (c *regexCache) regexp(pattern string, ignoreCase, multiline bool) (*regexp.Regexp, error) {
	flags := ""
	if ignoreCase {
		flags += "i"
	}
	if multiline {
		flags += "m"
	}
	key := flags + "\x00" + pattern
	c.mu.RLock()
	re, ok := c.re[key]
	err := c.errs[key]
	c.mu.RUnlock()
	if ok || err != nil {
		return re, err
	}
	src := translatePyRegex(pattern)
	if flags != "" {
		src = "(?" + flags + ")" + src
	}
	re, err = regexp.Compile(src)
	if err != nil {
		err = errorf("invalid regular expression %q: %s", pattern, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	c.mu.Lock()
	if len(c.re)+len(c.errs) < maxCacheEntries {
		if err != nil {
			c.errs[key] = err
		} else {
			c.re[key] = re
		}
	}
	c.mu.Unlock()
	return re, err
}

func (c *regexCache) jmespath(expr string) (*jmespath.JMESPath, error) {
	c.mu.RLock()
	q, ok := c.jp[expr]
	c.mu.RUnlock()
	if ok {
		return q, nil
	}
	q, err := jmespath.Compile(expr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.jp) < maxCacheEntries {
		c.jp[expr] = q
	}
	c.mu.Unlock()
	return q, nil
}

// translatePyRegex maps the Python spellings RE2 writes differently: \Z
// (end of text) is \z, \uXXXX and \UXXXXXXXX are \x{...}, and \_ (a
// harmless escape in Python, an error in RE2) is _.
func translatePyRegex(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' || i+1 >= len(p) {
			b.WriteByte(p[i])
			continue
		}
		switch n := p[i+1]; {
		case n == 'Z':
			b.WriteString(`\z`)
		case n == '_':
			b.WriteByte('_')
		case (n == 'u' && i+6 <= len(p)) || (n == 'U' && i+10 <= len(p)):
			width := 4
			if n == 'U' {
				width = 8
			}
			b.WriteString(`\x{` + p[i+2:i+2+width] + `}`)
			i += width
		default:
			b.WriteString(p[i : i+2])
		}
		i++
	}
	return b.String()
}

// pyRepl converts a Python re.sub replacement (\1, \g<1>, \g<name>, \n,
// \\) into a regexp.Expand template.
func pyRepl(re *regexp.Regexp, repl string) (string, error) {
	if !strings.ContainsAny(repl, `\$`) {
		return repl, nil
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		ch := repl[i]
		if ch == '$' {
			b.WriteString("$$")
			continue
		}
		if ch != '\\' || i+1 >= len(repl) {
			b.WriteByte(ch)
			continue
		}
		n := repl[i+1]
		switch {
		case n >= '0' && n <= '9':
			j := i + 1
			for j < len(repl) && j < i+3 && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			g, _ := strconv.Atoi(repl[i+1 : j])
			if g > re.NumSubexp() {
				return "", errorf("invalid group reference %d", g)
			}
			b.WriteString("${" + strconv.Itoa(g) + "}")
			i = j - 1
		case n == 'g':
			end := strings.IndexByte(repl[i:], '>')
			if i+2 >= len(repl) || repl[i+2] != '<' || end < 0 {
				return "", errorf("missing group name in replacement")
			}
			name := repl[i+3 : i+end]
			if g, err := strconv.Atoi(name); err == nil {
				if g > re.NumSubexp() {
					return "", errorf("invalid group reference %d", g)
				}
			} else if re.SubexpIndex(name) < 0 {
				return "", errorf("unknown group name '%s'", name)
			}
			b.WriteString("${" + name + "}")
			i += end
		case n == 'n':
			b.WriteByte('\n')
			i++
		case n == 't':
			b.WriteByte('\t')
			i++
		case n == 'r':
			b.WriteByte('\r')
			i++
		case n == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte('\\')
			b.WriteByte(n)
			i++
		}
	}
	return b.String(), nil
}

func regexFlags(a *fargs, ignoreIdx, multiIdx int) (bool, bool, error) {
	ic, err := a.boolean(ignoreIdx, false)
	if err != nil {
		return false, false, err
	}
	ml, err := a.boolean(multiIdx, false)
	return ic, ml, err
}

// fRegexReplace is Ansible's regex_replace(value, pattern, replacement,
// ignorecase, multiline, count, mandatory_count).
func fRegexReplace(e *env, in any, a *fargs) (any, error) {
	pattern, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	repl, err := a.str(1, "")
	if err != nil {
		return nil, err
	}
	ic, ml, err := regexFlags(a, 2, 3)
	if err != nil {
		return nil, err
	}
	count, err := a.integer(4, 0)
	if err != nil {
		return nil, err
	}
	mandatory, err := a.integer(5, 0)
	if err != nil {
		return nil, err
	}
	re, err := e.cache.regexp(pattern, ic, ml)
	if err != nil {
		return nil, err
	}
	tmpl, err := pyRepl(re, repl)
	if err != nil {
		return nil, err
	}
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	limit := -1
	if count > 0 && count < math.MaxInt32 {
		limit = int(count)
	}
	matches, err := e.findAll(re, pattern, s, limit)
	if err != nil {
		return nil, err
	}
	m := meter{e: e}
	last := 0
	for _, match := range matches {
		if err := m.add(int64(match[0]-last) + expandedLen(re, tmpl, match)); err != nil {
			return nil, err
		}
		last = match[1]
	}
	if err := m.add(int64(len(s) - last)); err != nil {
		return nil, err
	}
	n := int64(len(matches))
	if mandatory > 0 && n != mandatory {
		return nil, errorf("'%s' should match %d times, but matches %d times", pattern, mandatory, n)
	}
	if err := m.done(); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.Grow(int(m.n))
	var dst []byte
	last = 0
	for _, match := range matches {
		b.WriteString(s[last:match[0]])
		dst = re.ExpandString(dst[:0], tmpl, s, match)
		b.Write(dst)
		last = match[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// findAll is re.FindAllStringSubmatchIndex(s, n) within the budget: the
// matching is charged to the step budget before it runs (the time of a
// regular expression grows with the text times the pattern), and the
// matches it may return to the evaluation's total, so that a pattern with
// many groups matching everywhere cannot allocate without bound.
func (e *env) findAll(re *regexp.Regexp, pattern, s string, n int) ([][]int, error) {
	if err := e.regexWork(pattern, s); err != nil {
		return nil, err
	}
	row := int64(re.NumSubexp()+1)*2*8 + 24 // one match: its indexes and their slice
	most := (e.b.work-e.b.built)/row + 1
	if n < 0 || int64(n) > most {
		n = int(min(most, math.MaxInt32))
	}
	matches := re.FindAllStringSubmatchIndex(s, n)
	if int64(len(matches)) == most {
		return nil, &LimitError{Kind: LimitWork, Limit: e.b.work}
	}
	return matches, e.spend(int64(len(matches)) * row)
}

// regexWork charges matching pattern against s to the step budget.
func (e *env) regexWork(pattern, s string) error {
	return e.tick(int(min(int64(len(s)+1)*int64(len(pattern)+1)/4096, maxSteps+1)))
}

// expandedLen is the length of regexp.Expand's output for template (as
// pyRepl writes it: literals, $$ and ${group}) and one match.
func expandedLen(re *regexp.Regexp, template string, match []int) int64 {
	var n int64
	for i := 0; i < len(template); i++ {
		if template[i] != '$' || i+1 >= len(template) {
			n++
			continue
		}
		if template[i+1] == '$' {
			n++
			i++
			continue
		}
		end := strings.IndexByte(template[i:], '}')
		if template[i+1] != '{' || end < 0 {
			n++
			continue
		}
		name := template[i+2 : i+end]
		g, err := strconv.Atoi(name)
		if err != nil {
			g = re.SubexpIndex(name)
		}
		if g >= 0 && 2*g+1 < len(match) && match[2*g] >= 0 {
			n += int64(match[2*g+1] - match[2*g])
		}
		i += end
	}
	return n
}

// fRegexSearch is Ansible's regex_search: the match, or the listed groups
// ('\\1', '\\g<name>'), or None.
func fRegexSearch(e *env, in any, a *fargs) (any, error) {
	pattern, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	for k := range a.kw {
		if k != "ignorecase" && k != "multiline" && k != "regex" {
			return nil, errorf("regex_search: unexpected keyword argument '%s'", k)
		}
	}
	ic, _ := truth(a.kw["ignorecase"])
	ml, _ := truth(a.kw["multiline"])
	re, err := e.cache.regexp(pattern, ic, ml)
	if err != nil {
		return nil, err
	}
	var groups []string
	if len(a.args) > 1 {
		for _, g := range a.args[1:] {
			s, ok := g.(string)
			switch {
			case ok && strings.HasPrefix(s, `\g<`) && strings.HasSuffix(s, ">"):
				groups = append(groups, s[3:len(s)-1])
			case ok && strings.HasPrefix(s, `\`):
				if _, err := strconv.Atoi(s[1:]); err != nil {
					return nil, errorf("regex_search: unknown argument")
				}
				groups = append(groups, s[1:])
			default:
				return nil, errorf("regex_search: unknown argument")
			}
		}
	}
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	if err := e.regexWork(pattern, s); err != nil {
		return nil, err
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, nil
	}
	if len(groups) == 0 {
		return s[m[0]:m[1]], nil
	}
	out := make([]any, 0, len(groups))
	for _, g := range groups {
		idx, err := strconv.Atoi(g)
		if err != nil {
			idx = re.SubexpIndex(g)
		}
		if idx < 0 || idx > re.NumSubexp() {
			return nil, errorf("regex_search: no such group %s", g)
		}
		if m[2*idx] < 0 {
			out = append(out, nil)
		} else {
			out = append(out, s[m[2*idx]:m[2*idx+1]])
		}
	}
	return out, nil
}

// fRegexFindall is Python's re.findall: the matches, the single group's
// values, or lists of the groups' values.
func fRegexFindall(e *env, in any, a *fargs) (any, error) {
	pattern, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	ml, ic, err := regexFlags(a, 1, 2)
	if err != nil {
		return nil, err
	}
	re, err := e.cache.regexp(pattern, ic, ml)
	if err != nil {
		return nil, err
	}
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	matches, err := e.findAll(re, pattern, s, -1)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, m := range matches {
		group := func(i int) any {
			if m[2*i] < 0 {
				return ""
			}
			return s[m[2*i]:m[2*i+1]]
		}
		switch re.NumSubexp() {
		case 0:
			out = append(out, group(0))
		case 1:
			out = append(out, group(1))
		default:
			row := make([]any, re.NumSubexp())
			for i := range row {
				row[i] = group(i + 1)
			}
			out = append(out, row)
		}
	}
	return e.charge(out)
}

// fRegexEscape is Python's re.escape.
func fRegexEscape(e *env, in any, a *fargs) (any, error) {
	t, err := a.str(0, "python")
	if err != nil {
		return nil, err
	}
	if t != "python" {
		return nil, errorf("regex_escape: only re_type='python' is supported")
	}
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	const special = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f"
	n := int64(len(s))
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			n++
		}
	}
	if err := e.build(n); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.Grow(int(n))
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}
