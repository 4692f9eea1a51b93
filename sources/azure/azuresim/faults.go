package azuresim

import (
	"net/http"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// Operations the server answers, as Stats and Faults.Ops name them.
const (
	OpOpenIDConfiguration = "identity.openidConfiguration"
	OpInstanceDiscovery   = "identity.instanceDiscovery"
	OpToken               = "identity.token"

	OpVMListAll              = "virtualMachines.listAll"
	OpVMListAllStatus        = "virtualMachines.listAll(statusOnly)"
	OpVMList                 = "virtualMachines.list"
	OpVMInstanceView         = "virtualMachines.instanceView"
	OpScaleSetListAll        = "virtualMachineScaleSets.listAll"
	OpScaleSetList           = "virtualMachineScaleSets.list"
	OpScaleSetVMList         = "virtualMachineScaleSetVMs.list"
	OpScaleSetVMInstanceView = "virtualMachineScaleSetVMs.getInstanceView"
	OpNICListAll             = "networkInterfaces.listAll"
	OpNICList                = "networkInterfaces.list"
	OpNICListScaleSet        = "networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces"
	OpNICListScaleSetVM      = "networkInterfaces.listVirtualMachineScaleSetVMNetworkInterfaces"
	OpNICGet                 = "networkInterfaces.get"
	OpNICGetScaleSetVM       = "networkInterfaces.getVirtualMachineScaleSetNetworkInterface"
	OpPublicIPListAll        = "publicIPAddresses.listAll"
	OpPublicIPList           = "publicIPAddresses.list"
	OpPublicIPListScale      = "publicIPAddresses.listVirtualMachineScaleSetPublicIPAddresses"
	OpPublicIPGet            = "publicIPAddresses.get"
	OpPublicIPGetScaleSetVM  = "publicIPAddresses.getVirtualMachineScaleSetPublicIPAddress"
)

// isIdentity reports whether op is one of the identity endpoint's.
func isIdentity(op string) bool { return strings.HasPrefix(op, "identity.") }

// Faults are the failures the server injects, the chassis's knobs shared
// by every simulator (see cloudsim.Faults). The zero value injects none.
// In Resource Manager's terms:
//
//  1. Latency is waited (eligible operations): slow pages.
//  2. DenyScopes are subscriptions: every ARM request on one of them
//     answers 403 AuthorizationFailed (not retried by the SDK), like a
//     subscription the service principal has no role on.
//  3. Throttling (eligible operations) answers 429 with ARM's
//     SubscriptionRequestsThrottled error and a Retry-After header
//     (retried by the SDK after that delay). ARM sends whole seconds; a
//     RetryAfter that is not a whole number of seconds is also sent in
//     milliseconds as x-ms-retry-after-ms, which the Azure SDK prefers,
//     so tests can throttle without waiting seconds.
//  4. Server errors (eligible operations) answer 500 InternalServerError
//     and 503 ServiceUnavailable alternately, InternalServerError first
//     (both retried).
//  5. FailAfterPage: pages of a list after that one answer 500
//     InternalServerError.
//
// Identity requests (token, OpenID configuration, instance discovery) are
// eligible for latency, throttling and errors only when named in Ops; the
// ARM operations are eligible when Ops is empty or names them.
type Faults = cloudsim.Faults

// Call identifies requests by operation (Op) and subscription (Scope; ""
// for the identity endpoints).
type Call = cloudsim.Call

// Stats counts what the server saw since it started (or ResetStats):
// Requests are requests of known operations that passed authentication;
// Rejected counts requests refused before dispatch (no or a bad token, a
// wrong client secret, an unknown subscription, tenant or path, a missing
// api-version); InjectedCodes counts injected faults by error code.
type Stats = cloudsim.Stats

func newInjector(seed int64, f Faults) *cloudsim.Injector {
	return cloudsim.NewInjector(seed, f, cloudsim.Policy{
		DefaultOps: func(op string) bool { return !isIdentity(op) },
	})
}

// fault is an injected failure.
type fault struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

var (
	faultInternal    = &fault{status: http.StatusInternalServerError, code: "InternalServerError", message: "Encountered internal server error. Diagnostic information: timestamp '20250601T000000Z', subscription id '', tracking id '', request correlation id ''."}
	faultUnavailable = &fault{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: "The server is currently unable to handle the request due to a temporary overloading or maintenance of the server. Please try again later."}
)

func throttleFault(sub string, after time.Duration) *fault {
	return &fault{
		status:     http.StatusTooManyRequests,
		code:       "SubscriptionRequestsThrottled",
		message:    "Number of 'read' requests for subscription '" + sub + "' actor 'roster' exceeded. Please try again after '" + retrySeconds(after) + "' seconds after additional '1' requests.",
		retryAfter: after,
	}
}

func deniedFault(sub, op string) *fault {
	action := "Microsoft.Compute/virtualMachines/read"
	if strings.HasPrefix(op, "networkInterfaces") {
		action = "Microsoft.Network/networkInterfaces/read"
	} else if strings.HasPrefix(op, "publicIPAddresses") {
		action = "Microsoft.Network/publicIPAddresses/read"
	} else if strings.HasPrefix(op, "virtualMachineScaleSet") {
		action = "Microsoft.Compute/virtualMachineScaleSets/read"
	}
	return &fault{
		status: http.StatusForbidden,
		code:   "AuthorizationFailed",
		message: "The client '" + DefaultClientID + "' with object id '" + DefaultClientID + "' does not have authorization to perform action '" + action +
			"' over scope '/subscriptions/" + sub + "' or the scope is invalid. If access was recently granted, please refresh your credentials.",
	}
}

func (f *fault) Status() int  { return f.status }
func (f *fault) Code() string { return f.code }

// answers are the chassis's verdicts in Resource Manager's terms.
var answers = cloudsim.Renderer[*fault]{
	Deny:     func(c Call) *fault { return deniedFault(c.Scope, c.Op) },
	Throttle: func(c Call, v cloudsim.Verdict) *fault { return throttleFault(c.Scope, v.RetryAfter) },
	Errors:   []*fault{faultInternal, faultUnavailable},
	Page:     faultInternal,
}
