package awssim

import (
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// AssumeRoleCall records one successful AssumeRole request.
type AssumeRoleCall struct {
	RoleARN         string
	RoleSessionName string
	ExternalID      string // "" when not sent
	DurationSeconds int    // as granted (3600 when not sent)
	// CallerAccessKeyID signed the request; IssuedAccessKeyID is the
	// temporary key returned (accepted by this server from then on).
	CallerAccessKeyID string
	IssuedAccessKeyID string
	Region            string
	Time              time.Time
}

// AssumeRoleCalls returns the AssumeRole requests answered so far, oldest
// first.
func (s *Server) AssumeRoleCalls() []AssumeRoleCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.assumeCalls)
}

type assumedRole struct {
	account, roleName, session, roleID string
}

func (r assumedRole) arn() string {
	return "arn:aws:sts::" + r.account + ":assumed-role/" + r.roleName + "/" + r.session
}

var (
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

func (s *Server) assumeRole(q *request) {
	form := q.R.Form
	roleARN, session := form.Get("RoleArn"), form.Get("RoleSessionName")
	invalid := func(msg string) { q.fail(http.StatusBadRequest, "ValidationError", msg) }
	switch {
	case roleARN == "":
		invalid("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
		return
	case session == "":
		invalid("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
		return
	case !sessionNamePattern.MatchString(session):
		invalid("1 validation error detected: Value '" + session + "' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
		return
	}
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		invalid(roleARN + " is invalid")
		return
	}
	duration := 3600
	if d := form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 {
			invalid("1 validation error detected: Value '" + d + "' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
			return
		}
		duration = n
	}
	role := assumedRole{account: m[1], roleName: m[2], session: session, roleID: "AROA" + randUpper(17)}
	akid := "ASIA" + randUpper(16)
	expires := time.Now().UTC().Add(time.Duration(duration) * time.Second).Truncate(time.Second)

	s.mu.Lock()
	s.issued[akid] = role
	s.assumeCalls = append(s.assumeCalls, AssumeRoleCall{
		RoleARN:           roleARN,
		RoleSessionName:   session,
		ExternalID:        form.Get("ExternalId"),
		DurationSeconds:   duration,
		CallerAccessKeyID: q.akid,
		IssuedAccessKeyID: akid,
		Region:            q.region,
		Time:              time.Now(),
	})
	s.mu.Unlock()

	w := getW()
	defer putW(w)
	w.b = append(w.b, `<AssumeRoleResponse xmlns="`+stsNS+`"><AssumeRoleResult>`...)
	w.open("AssumedRoleUser")
	w.text("AssumedRoleId", role.roleID+":"+session)
	w.text("Arn", role.arn())
	w.close("AssumedRoleUser")
	w.open("Credentials")
	w.raw("AccessKeyId", akid)
	w.raw("SecretAccessKey", randBase64(40))
	w.raw("SessionToken", "IQoJb3JpZ2luX2VjE"+randBase64(300))
	w.raw("Expiration", expires.Format(time.RFC3339))
	w.close("Credentials")
	w.b = append(w.b, "</AssumeRoleResult><ResponseMetadata>"...)
	w.raw("RequestId", q.id)
	w.b = append(w.b, "</ResponseMetadata></AssumeRoleResponse>"...)
	q.ok(w.b)
}

func (s *Server) getCallerIdentity(q *request) {
	s.mu.Lock()
	role, assumed := s.issued[q.akid]
	s.mu.Unlock()
	account, arn, userID := s.account, "arn:aws:iam::"+s.account+":user/roster-sim", "AIDA"+stableUpper(q.akid, 17)
	if assumed {
		account, arn, userID = role.account, role.arn(), role.roleID+":"+role.session
	}
	w := getW()
	defer putW(w)
	w.b = append(w.b, `<GetCallerIdentityResponse xmlns="`+stsNS+`"><GetCallerIdentityResult>`...)
	w.text("Arn", arn)
	w.text("UserId", userID)
	w.raw("Account", account)
	w.b = append(w.b, "</GetCallerIdentityResult><ResponseMetadata>"...)
	w.raw("RequestId", q.id)
	w.b = append(w.b, "</ResponseMetadata></GetCallerIdentityResponse>"...)
	q.ok(w.b)
}

func randUpper(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = upperAlnum[rand.IntN(len(upperAlnum))]
	}
	return string(b)
}

const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func randBase64(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base64Chars[rand.IntN(len(base64Chars))]
	}
	return string(b)
}

// stableUpper derives an id-like string from s, so one access key always
// maps to the same user id.
func stableUpper(s string, n int) string {
	r := rand.New(rand.NewPCG(cloudsim.HashString(s), 0x1d))
	var b strings.Builder
	for range n {
		b.WriteByte(upperAlnum[r.IntN(len(upperAlnum))])
	}
	return b.String()
}
