package rollback

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
)

// BenchmarkAlertToPatchedTraffic measures, through the real HTTP host, the
// time from sending Alertmanager's webhook to the traffic patch reaching the
// Knative API (the serving fake clientset): one Service read, one patch. It
// reports p50 and p99 in milliseconds.
func BenchmarkAlertToPatchedTraffic(b *testing.B) {
	e := newEnvB(b)
	body := sample(b, "alertmanager-firing.json")
	var sent time.Time
	var latencies []time.Duration
	first := true
	e.cs.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		if first { // the traffic patch; the second one records that promote was told
			latencies = append(latencies, time.Since(sent))
			first = false
		}
		return false, nil, nil
	})
	fresh := midRollout("shop", "checkout")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, _ := e.cs.ServingV1().Services("shop").Get(context.Background(), "checkout", metav1.GetOptions{})
		fresh.ResourceVersion = s.ResourceVersion
		if _, err := e.cs.ServingV1().Services("shop").Update(context.Background(), fresh.DeepCopy(), metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		first = true
		b.StartTimer()
		sent = time.Now()
		if code, msg := e.post(body, bearer()); code != http.StatusOK {
			b.Fatalf("%d %s", code, msg)
		}
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if n := len(latencies); n > 0 {
		b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[(n*99)/100].Microseconds())/1000, "p99-ms")
	}
}
