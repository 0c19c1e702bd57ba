package throttle

import (
	"testing"
	"time"
)

func TestWriteQuota(t *testing.T) {
	th := &Limiter{}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < writeQuota; i++ {
		if r := th.take("app", 1, true, 1e9, now); !r.ok {
			t.Fatalf("write %d refused", i)
		}
	}
	r := th.take("app", 1, true, 1e9, now)
	if r.ok || !r.writeLimit || r.retryAfter != 1 {
		t.Errorf("write over quota: %+v", r)
	}
	if r := th.take("app", 1, false, 1e9, now); !r.ok {
		t.Errorf("a read is not held by the write quota: %+v", r)
	}
	if r := th.take("app", 1, true, 1e9, now.Add(time.Second)); !r.ok {
		t.Errorf("write after refill: %+v", r)
	}
}
