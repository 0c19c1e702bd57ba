package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/clock"
	"github.com/dirsync/dirsync/internal/directory"
)

// followEvery is how often events list --follow looks for new events.
const followEvery = 2 * time.Second

func (a *app) eventsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Read the account's change feed"}
	var (
		asJSON, follow bool
		after          int64
		limit          int
	)
	list := readOnly(&cobra.Command{
		Use:   "list [--after SEQ] [--follow]",
		Short: "List change events in order; --follow keeps printing new ones",
		Long: `List the account's change events (user.created, group.user_added,
sync.completed...) in order, after --after (an event's seq). With --follow,
keep printing new events as they happen until interrupted; with --json each
event is then one JSON object per line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !follow {
				es, err := m.Events(ctx, actor, after, limit)
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(es)
				}
				a.printEvents(es, true)
				return nil
			}
			header := !asJSON
			for {
				es, err := m.Events(ctx, actor, after, limit)
				if err != nil && ctx.Err() != nil {
					return nil // interrupted while reading: the end of following too
				}
				if err != nil {
					return err
				}
				if len(es) > 0 {
					after = es[len(es)-1].Seq
					if asJSON {
						enc := json.NewEncoder(a.stdout)
						for _, e := range es {
							enc.Encode(e)
						}
					} else {
						a.printEvents(es, header)
						header = false
					}
				}
				if len(es) == limit {
					continue // more are waiting
				}
				if err := clock.Sleep(ctx, a.opts.Clock, followEvery); err != nil {
					return nil // interrupted: the end of following
				}
			}
		},
	})
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list.Flags().BoolVar(&follow, "follow", false, "keep printing new events until interrupted")
	list.Flags().Int64Var(&after, "after", 0, "only events after this seq")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many events (per poll with --follow)")
	cmd.AddCommand(list)
	return cmd
}

// printEvents prints events one per line: seq, time, type, what.
func (a *app) printEvents(es []directory.Event, header bool) {
	for i, e := range es {
		if i == 0 && header {
			a.printf("%-6s %-19s %-32s %s\n", "SEQ", "TIME", "TYPE", "WHAT")
		}
		a.printf("%-6d %-19s %-32s %s\n", e.Seq, fmtTime(e.Time), e.Type, eventSummary(e))
	}
}

// eventSummary names what an event is about, from its data.
func eventSummary(e directory.Event) string {
	var d struct {
		Name    string                 `json:"name"`
		Source  string                 `json:"source"`
		Member  *struct{ Name string } `json:"member"`
		Outcome string                 `json:"outcome"`
		Message string                 `json:"message"`
	}
	_ = json.Unmarshal(e.Data, &d)
	switch {
	case d.Member != nil:
		return fmt.Sprintf("%s in %s", d.Member.Name, d.Name)
	case d.Outcome != "":
		return fmt.Sprintf("run %s of %s: %s", e.RunID, d.Source, d.Outcome)
	case d.Name != "":
		return d.Name
	case d.Message != "":
		return d.Source + ": " + d.Message
	}
	return d.Source
}
