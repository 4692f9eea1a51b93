package password

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// Known answers of the Argon2 reference implementation
// (phc-winner-argon2, src/test.c: password "password", salt "somesalt").
var knownAnswers = []struct{ pw, hash string }{
	{"password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
	{"password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
	{"password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
	{"password", "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
	{"differentpassword", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94"},
	{"password", "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw"},
}

func TestKnownAnswers(t *testing.T) {
	for _, ka := range knownAnswers {
		ok, err := Verify(roster.Secret(ka.pw), ka.hash)
		if err != nil || !ok {
			t.Errorf("Verify(%q, %s) = %v, %v; want true", ka.pw, ka.hash, ok, err)
		}
		ok, err = Verify(roster.Secret(ka.pw+"x"), ka.hash)
		if err != nil || ok {
			t.Errorf("Verify(wrong password, %s) = %v, %v; want false", ka.hash, ok, err)
		}
		// The encoder writes what the reference writes.
		d, err := parse(ka.hash)
		if err != nil {
			t.Fatal(err)
		}
		if got := encode(d.params, d.salt, d.key); got != ka.hash {
			t.Errorf("encode = %s, want %s", got, ka.hash)
		}
	}
}

func TestHashRoundTrip(t *testing.T) {
	pw := roster.Secret("correct horse battery staple")
	h, err := Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %s, want the default parameters", h)
	}
	d, err := parse(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.salt) != 16 || len(d.key) != 32 {
		t.Fatalf("salt %d bytes, hash %d bytes; want 16 and 32", len(d.salt), len(d.key))
	}
	if ok, err := Verify(pw, h); !ok || err != nil {
		t.Fatalf("Verify(right password) = %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "correct horse battery staple ", "Correct horse battery staple"} {
		if ok, err := Verify(roster.Secret(wrong), h); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want false", wrong, ok, err)
		}
	}
	h2, err := Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if NeedsRehash(h, Default) {
		t.Error("NeedsRehash(a Default hash, Default) = true")
	}
}

func TestHashRefusesWeakOrAbsurdParams(t *testing.T) {
	for _, p := range []Params{
		{Memory: 4096, Time: 2, Threads: 1},               // below OWASP's memory
		{Memory: 19456, Time: 1, Threads: 1},              // below its passes
		{Memory: MaxMemory + 1, Time: 2, Threads: 1},      // beyond the bound
		{Memory: 19456, Time: MaxTime + 1, Threads: 1},    // beyond the bound
		{Memory: 19456, Time: 2, Threads: 0},              // no lane
		{Memory: 19456, Time: 2, Threads: MaxThreads + 1}, // beyond the bound
	} {
		if h, err := p.Hash("correct horse battery staple"); err == nil {
			t.Errorf("%v.Hash = %s, want an error", p, h)
		}
	}
}

func TestVerifyRefusesBadEncodings(t *testing.T) {
	const good = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	const salt, key = "c29tZXNhbHQ", "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	bad := map[string]string{
		"empty-ish":           "$",
		"argon2i":             "$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + key,
		"argon2d":             "$argon2d$v=19$m=256,t=2,p=1$" + salt + "$" + key,
		"no version":          "$argon2id$m=256,t=2,p=1$" + salt + "$" + key,
		"version 16":          "$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + key,
		"4 GiB of memory":     "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key,
		"just over the bound": fmt.Sprintf("$argon2id$v=19$m=%d,t=2,p=1$%s$%s", MaxMemory+1, salt, key),
		"m beyond uint32":     "$argon2id$v=19$m=99999999999999999999,t=2,p=1$" + salt + "$" + key,
		"many passes":         "$argon2id$v=19$m=256,t=1000000,p=1$" + salt + "$" + key,
		"zero passes":         "$argon2id$v=19$m=256,t=0,p=1$" + salt + "$" + key,
		"many lanes":          "$argon2id$v=19$m=256,t=2,p=255$" + salt + "$" + key,
		"lanes wrap uint8":    "$argon2id$v=19$m=256,t=2,p=257$" + salt + "$" + key,
		"zero lanes":          "$argon2id$v=19$m=256,t=2,p=0$" + salt + "$" + key,
		"memory under 8p":     "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key,
		"negative":            "$argon2id$v=19$m=-256,t=2,p=1$" + salt + "$" + key,
		"plus sign":           "$argon2id$v=19$m=+256,t=2,p=1$" + salt + "$" + key,
		"leading zero":        "$argon2id$v=19$m=0256,t=2,p=1$" + salt + "$" + key,
		"order":               "$argon2id$v=19$t=2,m=256,p=1$" + salt + "$" + key,
		"missing p":           "$argon2id$v=19$m=256,t=2$" + salt + "$" + key,
		"extra parameter":     "$argon2id$v=19$m=256,t=2,p=1,x=1$" + salt + "$" + key,
		"data parameter":      "$argon2id$v=19$m=256,t=2,p=1,data=YQ$" + salt + "$" + key,
		"padded salt":         "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$" + key,
		"short salt":          "$argon2id$v=19$m=256,t=2,p=1$c29tZQ$" + key,
		"url base64":          "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$nf65EOgLrQMR_uIPnA4rEsF5h7TKyQwu9U1bMCHGi_4",
		"non-canonical bits":  "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key[:len(key)-1] + "5",
		"short hash":          "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$c29tZXNhbHQ",
		"no hash":             "$argon2id$v=19$m=256,t=2,p=1$" + salt,
		"trailing field":      good + "$",
		"leading text":        "x" + good,
		"bcrypt":              "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"plaintext":           "password",
	}
	if ok, err := Verify("password", good); !ok || err != nil {
		t.Fatalf("the well-formed base case does not verify: %v, %v", ok, err)
	}
	for name, h := range bad {
		ok, err := Verify("password", h)
		if ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify(%s) = %v, %v; want ErrMalformed", name, h, ok, err)
		}
		if !NeedsRehash(h, Default) {
			t.Errorf("%s: NeedsRehash = false", name)
		}
	}
}

func TestVerifyWithoutAStoredHash(t *testing.T) {
	// An unknown or external user: false, no error, after the work of a
	// real verification.
	ok, err := Verify("correct horse battery staple", "")
	if ok || err != nil {
		t.Fatalf("Verify(no hash) = %v, %v; want false, nil", ok, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	Dummy("correct horse battery staple")
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got < uint64(Default.Memory)*1024 {
		t.Fatalf("Dummy allocated %d bytes, want at least the %d KiB of a Default verification", got, Default.Memory)
	}
}

func TestTooLongPassword(t *testing.T) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	long := roster.Secret(strings.Repeat("a", MaxLength+1))
	if ok, err := Verify(long, h); ok || err != nil {
		t.Fatalf("Verify(too long) = %v, %v; want false, nil", ok, err)
	}
	if _, err := Hash(long); err == nil {
		t.Fatal("Hash(too long) succeeded")
	}
}

func TestNeedsRehash(t *testing.T) {
	weak := "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"
	if !NeedsRehash(weak, Default) {
		t.Error("NeedsRehash(t=1, Default) = false") // and a short salt
	}
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !NeedsRehash(h, Params{Memory: 47104, Time: 2, Threads: 1}) {
		t.Error("NeedsRehash(Default, more memory) = false")
	}
	if !NeedsRehash(h, Params{Memory: 19456, Time: 3, Threads: 1}) {
		t.Error("NeedsRehash(Default, more passes) = false")
	}
}

func TestCheck(t *testing.T) {
	for pw, code := range map[string]string{
		"":                               roster.EINVALID,
		"short":                          roster.EINVALID,
		"elevenchars":                    roster.EINVALID,
		"twelve chars":                   "",
		strings.Repeat("x", MaxLength):   "",
		strings.Repeat("x", MaxLength+1): roster.EINVALID,
	} {
		err := Check(roster.Secret(pw))
		if got := roster.ErrorCode(err); got != code {
			t.Errorf("Check(%d bytes) = %v, want code %q", len(pw), err, code)
		}
		if err != nil && strings.Contains(err.Error(), pw) && pw != "" {
			t.Errorf("Check's error %q holds the password", err)
		}
	}
}

func TestPasswordNotLogged(t *testing.T) {
	pw := roster.Secret("correct horse battery staple")
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("sign-in", "password", pw, "args", []any{pw})
	fmt.Fprintf(&buf, "%v %+v %#v %s", pw, pw, pw, pw)
	if strings.Contains(buf.String(), pw.Reveal()) {
		t.Fatalf("the password reached the output: %s", buf.String())
	}
}
