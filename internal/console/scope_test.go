package console_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/schedule"
)

// A weekly schedule set in the editor is stored, and the page shows its
// next five runs in its time zone; a wrong one is refused beside the form.
func TestWeeklySchedule(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/contoso")
	b.do(chromedp.SetValue(chromedp.CSS("#kind"), "weekly"),
		chromedp.Click(chromedp.CSS(`input[name="weekday"][value="1"]`)), chromedp.Click(chromedp.CSS(`input[name="weekday"][value="4"]`)))
	b.submit(`form[action="/sources/contoso/schedule"]`, map[string]string{"#at": "08:00", "#time_zone": "Europe/Paris"})
	if got := b.text("#schedule-now"); got != "weekly mon,thu 08:00 in Europe/Paris" {
		t.Fatalf("the page says the schedule is %q", got)
	}
	v, err := w.m().Source(t.Context(), w.op, "contoso")
	if err != nil || v.Schedule.Kind != schedule.Weekly || !slices.Equal(v.Schedule.Weekdays, []time.Weekday{time.Monday, time.Thursday}) || len(v.NextRuns) != 5 {
		t.Fatalf("stored schedule %+v, next runs %v (%v)", v.Schedule, v.NextRuns, err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	items := eval[[]string](b, `[...document.querySelectorAll("ol.next-runs time")].map(e => e.getAttribute("datetime"))`)
	if len(items) != 5 {
		t.Fatalf("the page lists %d next runs", len(items))
	}
	for _, it := range items {
		at, err := time.Parse(time.RFC3339, it)
		if l := at.In(paris); err != nil || (l.Weekday() != time.Monday && l.Weekday() != time.Thursday) || l.Hour() != 8 || l.Minute() != 0 {
			t.Errorf("next run %s is not a Monday or Thursday at 08:00 in Paris", it)
		}
	}
	b.audit("source-schedule")

	b.do(chromedp.SetValue(chromedp.CSS("#kind"), "monthly"))
	b.submit(`form[action="/sources/contoso/schedule"]`, map[string]string{"#at": "23:00", "#day1": "1", "#day2": "1", "#time_zone": "UTC"})
	if msg := b.text("#schedule-error"); !strings.Contains(msg, "date 1 is given twice") {
		t.Fatalf("a monthly schedule on the 1st twice says %q", msg)
	}
	if v, _ := w.m().Source(t.Context(), w.op, "contoso"); v.Schedule.Kind != schedule.Weekly {
		t.Fatalf("a refused schedule changed the stored one: %+v", v.Schedule)
	}
}

// The group picker finds groups by name; the ones checked become the
// group filter; more than 400 are refused.
func TestGroupPicker(t *testing.T) {
	w := newWorld(t)
	w.addSource("contoso")
	groups, err := w.m().Groups(t.Context(), w.op, manage.GroupQuery{})
	if err != nil || len(groups.Items) == 0 {
		t.Fatalf("groups: %v %v", groups, err)
	}
	g := groups.Items[0]
	b := w.newTab("admin")
	b.signIn(ownerEmail)
	b.open("/sources/contoso")
	b.submit(`form[aria-label="Search the source's groups"]`, map[string]string{"#group_search": g.Name[:3]})
	if note := b.text("#group-results-note"); !strings.Contains(note, "with “"+g.Name[:3]+"”") {
		t.Fatalf("the search says %q", note)
	}
	b.audit("source-group-search")
	b.do(chromedp.Click(chromedp.CSS(`input[name="groups_mode"][value="flatten"]`)),
		chromedp.Click(chromedp.CSS(`#groups input[name="group"][value="`+g.Sources[0].ExternalID+`"]`)))
	b.submit(`form[action="/sources/contoso/scope"]`, nil)
	v, err := w.m().Source(t.Context(), w.op, "contoso")
	if err != nil || v.Scope.Groups.Mode != "flatten" || !slices.Equal(v.Scope.Groups.Selected, []string{g.Sources[0].ExternalID}) {
		t.Fatalf("stored group filter %+v (%v)", v.Scope.Groups, err)
	}
	if !strings.Contains(b.text("#scope-now"), "1 selected group (flatten)") {
		t.Fatalf("the page says %q", b.text("#scope-now"))
	}

	// A picked user, found by name, is stored.
	users, err := w.m().Users(t.Context(), w.op, manage.UserQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	u := users.Items[0]
	b.submit(`form[aria-label="Search the source's users"]`, map[string]string{"#user_search": u.Username[:4]})
	b.do(chromedp.Click(chromedp.CSS(`#picked input[name="picked"][value="` + u.Sources[0].ExternalID + `"]`)))
	b.submit(`form[action="/sources/contoso/scope"]`, nil)
	if v, _ := w.m().Source(t.Context(), w.op, "contoso"); !slices.Equal(v.Scope.PickedUsers, []string{u.Sources[0].ExternalID}) || len(v.Scope.Groups.Selected) != 1 {
		t.Fatalf("stored picks %v, groups %v", v.Scope.PickedUsers, v.Scope.Groups.Selected)
	}

	// 401 groups, posted as the form would post them, are refused and
	// change nothing.
	token := eval[string](b, `document.querySelector('form[action="/sources/contoso/scope"] input[name="csrf"]').value`)
	status := eval[int](b, `(async () => {
		const f = new URLSearchParams({csrf: "`+token+`", groups_mode: "flatten"});
		for (let i = 0; i < 401; i++) f.append("group", "g" + i);
		return (await fetch("/sources/contoso/scope", {method: "POST", body: f})).status;
	})()`)
	if status != 400 {
		t.Fatalf("401 selected groups: status %d", status)
	}
	if v, _ := w.m().Source(t.Context(), w.op, "contoso"); len(v.Scope.Groups.Selected) != 1 {
		t.Fatalf("a refused scope changed the stored one: %+v", v.Scope.Groups)
	}
}
