package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/scope"
)

// sourceSetCommand changes a source's scope rules and import options. Only
// the flags given change; the rest stay as they were.
func (a *app) sourceSetCommand() *cobra.Command {
	var (
		file, groupsMode, tagMode, phoneRegion, maxCursorAge string
		groups, rules, picks, tags, matchOrder               []string
		clearRules                                           bool
		requireLicense, requireEmail, normalize, importPhones,
		updateExisting, processDeletions, sendEnrollment bool
		maxDeletes, maxDeletePercent int
		asJSON                       bool
	)
	cmd := &cobra.Command{
		Use:   "set SOURCE",
		Short: "Change a source's scope rules and import options",
		Long: `Change which users and groups a source brings in and how. Only the flags
given change. The new rules apply at the next run: objects that fall out of
scope go to the trash (restorable), never straight out of the directory, and
the deletion limit still applies.

Rules are "include|exclude ATTRIBUTE OP VALUE", with OP one of = != ~ (contains)
^= (starts with) $= (ends with) or "in a,b"; for example
  --rule "exclude user_type=Guest" --rule "include domain in contoso.com,fabrikam.com"
Excludes win over includes; with include rules, a user must match one.
"dirsync source show SOURCE" prints the rules in the order they apply.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			m, actor, err := a.open(cmd)
			if err != nil {
				return err
			}
			v, err := m.Source(ctx, actor, args[0])
			if err != nil {
				return err
			}
			s := v.Scope
			if file != "" {
				data, err := os.ReadFile(file)
				if err != nil {
					return usageErr("read --settings-file: %v", err)
				}
				if s, err = manage.ParseScope(data); err != nil {
					return err
				}
			}
			f := cmd.Flags()
			if f.Changed("groups-mode") {
				s.Groups.Mode = scope.GroupMode(groupsMode)
				if s.Groups.Mode == scope.ModeAll {
					s.Groups.Selected = nil
				}
			}
			if f.Changed("group") {
				s.Groups.Selected = groups
				if s.Groups.Mode == "" || s.Groups.Mode == scope.ModeAll {
					s.Groups.Mode = scope.ModeFlatten
				}
			}
			if clearRules {
				s.UserRules = nil
			}
			for _, text := range rules {
				r, err := manage.ParseRule(text)
				if err != nil {
					return err
				}
				s.UserRules = append(s.UserRules, r)
			}
			if f.Changed("pick-user") {
				s.PickedUsers = picks
			}
			if f.Changed("require-license") {
				s.RequireLicense = requireLicense
			}
			if f.Changed("require-email") {
				s.RequireEmail = requireEmail
			}
			if f.Changed("normalize-usernames") {
				s.NormalizeUsernames = normalize
			}
			if f.Changed("import-phones") {
				s.ImportPhones = importPhones
			}
			if f.Changed("phone-region") {
				s.PhoneRegion = phoneRegion
			}
			if f.Changed("send-enrollment") {
				s.SendEnrollment = sendEnrollment
			}
			if f.Changed("tag") {
				s.Tags = tags
			}
			if f.Changed("tag-mode") {
				s.TagMode = scope.TagMode(tagMode)
			}
			if f.Changed("update-existing") {
				s.UpdateExisting = &updateExisting
			}
			if f.Changed("process-deletions") {
				s.ProcessDeletions = &processDeletions
			}
			if f.Changed("match-order") {
				s.MatchOrder = matchOrder
			}
			if f.Changed("max-deletes") {
				s.DeletionLimit.MaxObjects = maxDeletes
			}
			if f.Changed("max-delete-percent") {
				s.DeletionLimit.MaxPercent = maxDeletePercent
			}
			if f.Changed("max-cursor-age") {
				s.MaxCursorAge = maxCursorAge
			}
			if file == "" && !clearRules && len(rules) == 0 && !anyChanged(cmd.LocalFlags()) {
				return usageErr("nothing to change: give a flag (see dirsync source set --help)")
			}
			v, err = m.SetScope(ctx, actor, args[0], s)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(v.Scope)
			}
			a.printf("Settings of %s changed; the next run reconciles in full under them:\n  %s\n", v.Name, strings.Join(v.Scope.Describe(), "\n  "))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "settings-file", "", "replace all settings with this JSON file (see --json output for the shape)")
	fl.StringVar(&groupsMode, "groups-mode", "", "all, flatten (only the selected groups, nested members flattened in) or nested (selected groups with their nesting)")
	// Ids may be DNs (LDAP), which hold commas: these flags repeat and never split.
	fl.StringArrayVar(&groups, "group", nil, "a selected group's source id, or its DN for LDAP (repeat for more; at most 400)")
	fl.StringArrayVar(&rules, "rule", nil, "add a user rule, e.g. \"exclude user_type=Guest\" (repeatable)")
	fl.BoolVar(&clearRules, "clear-rules", false, "remove all user rules first")
	fl.StringArrayVar(&picks, "pick-user", nil, "a user's source id (or DN) that is always in scope (repeat for more)")
	fl.BoolVar(&requireLicense, "require-license", false, "leave out users without an assigned license")
	fl.BoolVar(&requireEmail, "require-email", false, "leave out users without an email address")
	fl.BoolVar(&normalize, "normalize-usernames", false, "use the UPN's prefix as the username")
	fl.BoolVar(&importPhones, "import-phones", false, "validate phones and store them as E.164; invalid ones are reported and dropped")
	fl.StringVar(&phoneRegion, "phone-region", "", "region of phone numbers without a country code, e.g. US")
	fl.BoolVar(&sendEnrollment, "send-enrollment", false, "mail imported users an enrollment link, with reminders (see dirsync enrollments)")
	fl.StringArrayVar(&tags, "tag", nil, "a tag given to the users this source imports (repeat for more)")
	fl.StringVar(&tagMode, "tag-mode", "", "append (default) or replace the users' tags")
	fl.BoolVar(&updateExisting, "update-existing", true, "update users that already exist (false: only create new ones)")
	fl.BoolVar(&processDeletions, "process-deletions", true, "move users and groups gone from the source or out of scope to the trash")
	fl.StringSliceVar(&matchOrder, "match-order", nil, "how unlinked source users meet existing ones: username,email (default) or email,username")
	fl.IntVar(&maxDeletes, "max-deletes", 0, "deletion limit: stop a run that would disable or delete more objects (default 500)")
	fl.IntVar(&maxDeletePercent, "max-delete-percent", 0, "deletion limit in percent of the source's objects (default 20)")
	fl.StringVar(&maxCursorAge, "max-cursor-age", "", "reconcile in full at least this often: a duration (36h, 7d) or off; \"\" for the default (24h for LDAP servers whose incremental reads cannot see deletions, 7d for the others)")
	fl.BoolVar(&asJSON, "json", false, "print the settings as JSON")
	return cmd
}

// anyChanged reports whether a flag other than --json was given.
func anyChanged(f *pflag.FlagSet) bool {
	changed := false
	f.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed && fl.Name != "json" && fl.Name != "settings-file" {
			changed = true
		}
	})
	return changed
}
