package scope

import "testing"

func TestDeletionLimit(t *testing.T) {
	tests := []struct {
		name     string
		d        DeletionLimit
		n, total int
		exceeds  bool
		msg      string
	}{
		{"nothing", DeletionLimit{}, 0, 1000, false, "nothing to disable or delete (limit 500 objects or 20%)"},
		{"a few", DeletionLimit{}, 3, 1000, false, "would disable or delete 3 of 1000 objects (0.3%): within the limits of 500 objects and 20%"},
		// Exactly the limit is allowed; one more is not.
		{"exactly 500", DeletionLimit{}, 500, 10000, false, "would disable or delete 500 of 10000 objects (5.0%): within the limits of 500 objects and 20%"},
		{"501", DeletionLimit{}, 501, 10000, true, "would disable or delete 501 of 10000 objects (5.0%): more than the limit of 500 objects"},
		{"exactly 20%", DeletionLimit{}, 200, 1000, false, "would disable or delete 200 of 1000 objects (20.0%): within the limits of 500 objects and 20%"},
		{"just over 20%", DeletionLimit{}, 201, 1000, true, "would disable or delete 201 of 1000 objects (20.1%): more than the limit of 20%"},
		{"a hair over 20% shows it", DeletionLimit{}, 2001, 10000, true, "would disable or delete 2001 of 10000 objects (20.01%): more than the limits of 500 objects and 20%"},
		{"both", DeletionLimit{}, 600, 1000, true, "would disable or delete 600 of 1000 objects (60.0%): more than the limits of 500 objects and 20%"},
		{"small directory", DeletionLimit{}, 1, 4, true, "would disable or delete 1 of 4 objects (25.0%): more than the limit of 20%"},
		{"1 of 5 is 20%", DeletionLimit{}, 1, 5, false, "would disable or delete 1 of 5 objects (20.0%): within the limits of 500 objects and 20%"},
		{"empty directory before", DeletionLimit{}, 1, 0, true, "would disable or delete 1 of 0 objects: more than the limit of 20%"},
		{"everyone left", DeletionLimit{}, 1000, 1000, true, "would disable or delete 1000 of 1000 objects (100.0%): more than the limits of 500 objects and 20%"},
		{"custom objects", DeletionLimit{MaxObjects: 10}, 11, 1000, true, "would disable or delete 11 of 1000 objects (1.1%): more than the limit of 10 objects"},
		{"custom objects boundary", DeletionLimit{MaxObjects: 10}, 10, 1000, false, "would disable or delete 10 of 1000 objects (1.0%): within the limits of 10 objects and 20%"},
		{"custom percent", DeletionLimit{MaxPercent: 100}, 4, 4, false, "would disable or delete 4 of 4 objects (100.0%): within the limits of 500 objects and 100%"},
		{"huge numbers do not overflow", DeletionLimit{MaxObjects: 1 << 40, MaxPercent: 50}, 1 << 40, 1 << 41, false, "would disable or delete 1099511627776 of 2199023255552 objects (50.0%): within the limits of 1099511627776 objects and 50%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exceeds, msg := tt.d.Exceeds(tt.n, tt.total)
			if exceeds != tt.exceeds || msg != tt.msg {
				t.Errorf("Exceeds(%d, %d) = %v, %q\nwant %v, %q", tt.n, tt.total, exceeds, msg, tt.exceeds, tt.msg)
			}
		})
	}
}
