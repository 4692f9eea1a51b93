// Package awssim simulates the parts of Amazon EC2 and STS that Roster's AWS
// source uses, over their real wire protocol, for tests, benchmarks and the
// `roster demo` / `roster simulate aws` commands. It is driven by the
// unmodified aws-sdk-go-v2 clients pointed at it with BaseEndpoint:
//
//	srv := awssim.New(awssim.Options{Seed: 1, Size: 5000})
//	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
//	...
//	client := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(url) })
//
// # Protocol
//
// Requests are the Query protocol: a form (POST body or GET query) with
// Action and Version, lists as Name.N (InstanceId.1, RegionName.1,
// Filter.1.Name, Filter.1.Value.1). EC2 answers DescribeRegions,
// DescribeAvailabilityZones and DescribeInstances in EC2's XML
// (namespace http://ec2.amazonaws.com/doc/2016-11-15/) and errors as
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
// STS answers AssumeRole and GetCallerIdentity in awsQuery XML and errors as
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
//
// One endpoint serves every region. A request's region and service are read
// from the credential scope of its SigV4 Authorization header
// (Credential=AKID/DATE/REGION/SERVICE/aws4_request); the signature itself is
// not verified. A scope service of "sts" selects STS, "ec2" selects EC2; any
// other service falls back on the action name. Requests are refused, as the
// real services do, when:
//
//   - the header is missing or not SigV4: EC2 401 AuthFailure, STS 403
//     MissingAuthenticationToken;
//   - Options.AccessKeys is set and holds neither the key nor a temporary key
//     this server issued: EC2 401 AuthFailure, STS 403 InvalidClientTokenId;
//   - the region is not enabled (DefaultRegions plus the fleet's regions):
//     EC2 401 AuthFailure, which is what EC2 answers for an opt-in region the
//     account has not enabled; STS 403 RegionDisabledException;
//   - the action is not simulated: 400 InvalidAction.
//
// DescribeRegions with AllRegions=true also lists four real opt-in regions
// (af-south-1, ap-east-1, eu-south-1, me-south-1) as "not-opted-in".
//
// # DescribeInstances
//
// Filters are ANDed, the values of one filter ORed; values are
// case-sensitive and support EC2's wildcards * and ? (backslash escapes).
// An unknown filter name is 400 InvalidParameterValue "The filter 'X' is
// invalid". MaxResults must be 5..1000 (else InvalidParameterValue); without
// it every match is returned in one response. InstanceId.N cannot be combined
// with MaxResults (InvalidParameterCombination); unknown ids are
// InvalidInstanceID.NotFound, malformed ones InvalidInstanceID.Malformed.
// NextToken is opaque and bound to the region and filters it came from
// (else InvalidPaginationToken). DryRun=true answers 412 DryRunOperation.
//
// # Fleet and faults
//
// The Fleet is generated from (seed, size, regions) and can be changed while
// the server runs (Fleet.SetState, Terminate, Remove, SetTag, Add). Faults
// (throttling, 5xx, latency, failing regions, a failing later page) are set
// in Options.Faults or with Server.SetFaults; Server.Stats counts requests
// and injected faults so tests can assert that retries happened.
package awssim
