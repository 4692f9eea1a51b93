package aws

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// shieldBodies wraps the SDK's HTTP client to hide the WriteTo method of
// request bodies. aws-sdk-go-v2 closes a request's body as soon as response
// headers arrive, after which the body answers WriteTo with io.EOF; when a
// server answers before net/http's write loop has finished with the body,
// the transport reads that as a write error and closes the connection under
// the response (aws/aws-sdk-go-v2#1825, #2737): the call fails with "use of
// closed network connection" and is retried after a backoff. A body that
// only reads cannot hit that path. (The wrapper sits on the service client,
// after config loading, so AWS_CA_BUNDLE handling still sees the SDK's own
// client.)
type shieldBodies struct{ next aws.HTTPClient }

func (c shieldBodies) Do(r *http.Request) (*http.Response, error) {
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
