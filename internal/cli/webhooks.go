package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) webhooksCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Manage the account's webhooks: signed change events posted to a URL"}
	cmd.AddCommand(a.webhooksListCommand(), a.webhooksAddCommand(), a.webhooksShowCommand(), a.webhooksSetCommand(),
		a.webhooksRemoveCommand(), a.webhooksDeliveriesCommand(), a.webhooksTestCommand())
	return cmd
}

func (a *app) printWebhook(h manage.Webhook) {
	types := "every type"
	if len(h.EventTypes) > 0 {
		types = strings.Join(h.EventTypes, ", ")
	}
	state := "enabled"
	if !h.Enabled {
		state = "disabled"
	}
	rows := [][2]string{{"ID", h.ID}, {"URL", h.URL}, {"State", state}, {"Events", types},
		{"Created", fmtTime(h.CreatedAt)}, {"Delivered up to", fmt.Sprintf("event %d", h.Cursor)}}
	if h.Attempts > 0 {
		rows = append(rows, [2]string{"Failing", fmt.Sprintf("%d attempts since %s; next at %s", h.Attempts, fmtTime(h.FirstFailedAt), fmtTime(h.NextAttemptAt))})
	}
	a.fields(rows)
}

func (a *app) webhooksListCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "list",
		Short: "List the account's webhooks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			hooks, err := m.Webhooks(cmd.Context(), actor)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(hooks)
			}
			var rows [][]string
			for _, h := range hooks {
				types := "*"
				if len(h.EventTypes) > 0 {
					types = strings.Join(h.EventTypes, ",")
				}
				state := "enabled"
				if !h.Enabled {
					state = "disabled"
				}
				if h.Attempts > 0 {
					state += fmt.Sprintf(", failing (%d attempts)", h.Attempts)
				}
				rows = append(rows, []string{h.ID, h.URL, state, types})
			}
			return a.table([]string{"ID", "URL", "STATE", "EVENTS"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// webhookFlags are the flags of add and set.
type webhookFlags struct {
	url             string
	types           []string
	enable, disable bool
}

func (f *webhookFlags) register(cmd *cobra.Command, withURL bool) {
	if withURL {
		cmd.Flags().StringVar(&f.url, "url", "", "the receiver's URL, https://...")
	}
	cmd.Flags().StringSliceVar(&f.types, "event-type", nil, "an event type to send (repeat or comma separate; none means every type): "+strings.Join(manage.EventTypes, ", "))
	cmd.Flags().BoolVar(&f.enable, "enable", false, "deliver to it")
	cmd.Flags().BoolVar(&f.disable, "disable", false, "deliver nothing to it until enabled")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
}

func (f *webhookFlags) input(cmd *cobra.Command) manage.WebhookInput {
	var in manage.WebhookInput
	if cmd.Flags().Changed("url") {
		in.URL = &f.url
	}
	if cmd.Flags().Changed("event-type") {
		in.EventTypes = &f.types
	}
	if f.enable || f.disable {
		on := f.enable
		in.Enabled = &on
	}
	return in
}

func (a *app) webhooksAddCommand() *cobra.Command {
	var (
		f      webhookFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "add URL [--event-type TYPE...]",
		Short: "Subscribe a URL to the account's change events; prints its signing secret once",
		Long: `Subscribe a URL to the account's change events, from now on. Each delivery is
a POST signed the Standard Webhooks way (webhook-id, webhook-timestamp,
webhook-signature headers) with the secret printed once here; deliveries are
in order, retried with backoff for a day when the receiver fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			in := f.input(cmd)
			in.URL = &args[0]
			h, err := m.CreateWebhook(cmd.Context(), actor, in)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(h)
			}
			a.printf("Added webhook %s to %s. Its signing secret, shown once: keep it for the receiver:\n%s\n", h.ID, h.URL, h.Secret)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (with the secret)")
	return cmd
}

func (a *app) webhooksShowCommand() *cobra.Command {
	var asJSON bool
	cmd := readOnly(&cobra.Command{
		Use:   "show WEBHOOK_ID",
		Short: "Show a webhook (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			h, err := m.Webhook(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(h)
			}
			a.printWebhook(h)
			return nil
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) webhooksSetCommand() *cobra.Command {
	var (
		f      webhookFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "set WEBHOOK_ID [--url URL] [--event-type TYPE...] [--enable|--disable]",
		Short: "Change a webhook",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			h, err := m.UpdateWebhook(cmd.Context(), actor, args[0], f.input(cmd))
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(h)
			}
			a.printWebhook(h)
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) webhooksRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove WEBHOOK_ID",
		Short: "Remove a webhook and its delivery log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			if err := m.DeleteWebhook(cmd.Context(), actor, args[0]); err != nil {
				return err
			}
			a.printf("Removed webhook %s.\n", args[0])
			return nil
		},
	}
}

func (a *app) webhooksDeliveriesCommand() *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := readOnly(&cobra.Command{
		Use:   "deliveries WEBHOOK_ID",
		Short: "List a webhook's delivery attempts, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			page, err := m.Deliveries(cmd.Context(), actor, args[0], manage.DeliveryQuery{Limit: limit})
			if err != nil {
				return err
			}
			ds := page.Items
			if asJSON {
				return a.printJSON(ds)
			}
			var rows [][]string
			for _, d := range ds {
				status := "-"
				if d.HTTPStatus != 0 {
					status = fmt.Sprint(d.HTTPStatus)
				}
				rows = append(rows, []string{fmtTime(d.Time), d.EventType, fmt.Sprint(d.EventSeq), fmt.Sprint(d.Attempt), d.Outcome, status,
					fmt.Sprintf("%dms", d.DurationMS), dash(d.Error)})
			}
			return a.table([]string{"TIME", "EVENT", "SEQ", "ATTEMPT", "OUTCOME", "HTTP", "TOOK", "ERROR"}, rows)
		},
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many deliveries")
	return cmd
}

func (a *app) webhooksTestCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test WEBHOOK_ID",
		Short: "Send a signed test event (webhook.test) to a webhook now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			d, err := m.TestWebhook(cmd.Context(), actor, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				if err := a.printJSON(d); err != nil {
					return err
				}
			} else if d.Outcome == manage.DeliverySucceeded {
				a.printf("The receiver accepted the test event (HTTP %d, %d ms).\n", d.HTTPStatus, d.DurationMS)
			}
			if d.Outcome != manage.DeliverySucceeded {
				return &exitError{ExitSource, fmt.Errorf("the test delivery failed: %s", d.Error)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
