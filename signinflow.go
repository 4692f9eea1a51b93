package roster

import (
	"context"
	"time"
)

// SignInFlowKind says what a sign-in under way is.
type SignInFlowKind string

const (
	// FlowOIDC is a browser sent to an OpenID Connect provider, expected
	// back at the callback with the flow's state.
	FlowOIDC SignInFlowKind = "oidc"
	// FlowDevice is a command line (roster login --sso) waiting for its
	// person to approve it in a browser signed in to Roster.
	FlowDevice SignInFlowKind = "device"
)

// SignInFlowStatus is where a device flow stands.
type SignInFlowStatus string

const (
	FlowPending  SignInFlowStatus = "pending"
	FlowApproved SignInFlowStatus = "approved"
	FlowDenied   SignInFlowStatus = "denied"
)

// SignInFlow is a sign-in under way, kept in the database so that any
// node of a cluster can finish it. It is found by the hash of a value
// only its owner holds (an OIDC state bound to the browser by a cookie,
// a device code the command line keeps), and it is used once.
type SignInFlow struct {
	ID       string // HashToken of the owner's value
	Kind     SignInFlowKind
	Provider string // the provider's name in the config
	// UserCode is what a person types, or follows a link with, to approve
	// a device flow; "" for other flows.
	UserCode string
	// Data is what the flow's code keeps for its end (an OIDC flow's
	// nonce and PKCE verifier, where to go after): a Secret, so that no
	// log shows it.
	Data      Secret
	Status    SignInFlowStatus
	UserID    string // who approved a device flow
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SignInFlowStore persists sign-ins under way.
type SignInFlowStore interface {
	CreateSignInFlow(ctx context.Context, f *SignInFlow) error
	// SignInFlow finds a flow by id; an expired one is not found.
	SignInFlow(ctx context.Context, id string, now time.Time) (*SignInFlow, error)
	// SignInFlowByUserCode finds a pending device flow by its user code;
	// an expired one is not found.
	SignInFlowByUserCode(ctx context.Context, code string, now time.Time) (*SignInFlow, error)
	// DecideSignInFlow approves a pending flow for a user, or denies it
	// (userID ""); ECONFLICT if it is not pending any more.
	DecideSignInFlow(ctx context.Context, id string, status SignInFlowStatus, userID string) error
	// DeleteSignInFlow ends a flow. Of two callers ending the same flow,
	// one gets ENOTFOUND: that is what makes a flow usable once.
	DeleteSignInFlow(ctx context.Context, id string) error
	// DeleteExpiredSignInFlows deletes the flows that ended before t.
	DeleteExpiredSignInFlows(ctx context.Context, t time.Time) (int64, error)
}

// NewDeviceCode returns a fresh random device code (256 bits), the secret
// a command line polls a device sign-in with, and its hash.
func NewDeviceCode() (Secret, string) { return newRandomSecret(DeviceCodePrefix) }

// DeviceCodePrefix starts every device code.
const DeviceCodePrefix = "rsd_"
