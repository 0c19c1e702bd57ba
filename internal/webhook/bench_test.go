package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/dirsync/dirsync/internal/directory"
)

// BenchmarkHealthyBesideHanging measures how long a healthy endpoint waits
// for each new event (ns/op: from the event's append to its receipt), alone
// and beside 20 endpoints whose receivers never answer (issue 10.4: within
// 2x of alone).
//
//	go test ./internal/webhook -run '^$' -bench HealthyBesideHanging -benchtime 300x
func BenchmarkHealthyBesideHanging(b *testing.B) {
	for _, hanging := range []int{0, 20} {
		b.Run("hanging="+strconv.Itoa(hanging), func(b *testing.B) {
			f := newFixture(b)
			f.d.Clock = nil // the real clock
			hang := newGate()
			hangSrv := httptest.NewServer(hang)
			defer func() { hang.open(); hangSrv.Close() }()
			got := make(chan struct{}, 1)
			healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
			defer healthy.Close()
			for i := range hanging {
				f.subscribe(hangSrv.URL + "/" + strconv.Itoa(i))
			}
			f.subscribe(healthy.URL)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { f.d.Run(ctx, 0) })
			defer func() { cancel(); hang.open(); wg.Wait() }()
			// The hanging receivers hold their first requests from here on.
			f.events(directory.EventUserCreated)
			f.d.Wake()
			<-got
			for range hanging {
				<-hang.arrived
			}
			b.ResetTimer()
			for range b.N {
				f.events(directory.EventUserCreated)
				f.d.Wake()
				<-got
			}
		})
	}
}
