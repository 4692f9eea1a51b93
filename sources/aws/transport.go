package aws

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// shieldBodies wraps the SDK's HTTP client to hide the WriteTo method of
// request bodies. aws-sdk-go-v2 closes a request's body as soon as response
// headers arrive, after which the body answers WriteTo with io.EOF; when a
// server answers before net/http's write loop has finished with the body,
// the transport reads that as a write error and closes the connection under
// the response (aws/aws-sdk-go-v2#1825, #2737): the call fails with "use of
// closed network connection" and is retried after a backoff. A body that
// only reads cannot hit that path.
//
// The wrapper goes on after config loading, so AWS_CA_BUNDLE handling still
// sees the SDK's own client. Loading leaves the client nil unless a client
// or a CA bundle was configured (each service client then builds its own):
// nil gets the client a service client would build, awshttp's default.
func shieldBodies(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return bodyShield{next}
}

type bodyShield struct{ next aws.HTTPClient }

func (c bodyShield) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r2 := r.Clone(r.Context())
		r2.Body = readOnlyBody{r.Body}
		r = r2
	}
	return c.next.Do(r)
}

type readOnlyBody struct{ rc io.ReadCloser }

func (b readOnlyBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readOnlyBody) Close() error               { return b.rc.Close() }
