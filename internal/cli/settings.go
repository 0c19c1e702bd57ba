package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dirsync/dirsync/internal/manage"
	"github.com/dirsync/dirsync/internal/scope"
)

// scopeFlags are the flags of "source set": each changes one scope
// setting when given.
type scopeFlags struct {
	file, groupsMode, tagMode, phoneRegion, maxCursorAge, maxRunTime string
	groups, rules, picks, tags, matchOrder                           []string
	clearRules                                                       bool
	requireLicense, requireEmail, normalize, importPhones,
	updateExisting, processDeletions, sendEnrollment bool
	maxDeletes, maxDeletePercent int
	asJSON                       bool
}

// sourceSetCommand changes a source's scope rules and import options. Only
// the flags given change; the rest stay as they were.
func (a *app) sourceSetCommand() *cobra.Command {
	var sf scopeFlags
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
		RunE: func(cmd *cobra.Command, args []string) error { return a.sourceSet(cmd, args[0], &sf) },
	}
	sf.register(cmd.Flags())
	return cmd
}

func (sf *scopeFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&sf.file, "settings-file", "", "replace all settings with this JSON file (see --json output for the shape)")
	fl.StringVar(&sf.groupsMode, "groups-mode", "", "all, flatten (only the selected groups, nested members flattened in) or nested (selected groups with their nesting)")
	// Ids may be DNs (LDAP), which hold commas: these flags repeat and never split.
	fl.StringArrayVar(&sf.groups, "group", nil, "a selected group's source id, or its DN for LDAP (repeat for more; at most 400)")
	fl.StringArrayVar(&sf.rules, "rule", nil, "add a user rule, e.g. \"exclude user_type=Guest\" (repeatable)")
	fl.BoolVar(&sf.clearRules, "clear-rules", false, "remove all user rules first")
	fl.StringArrayVar(&sf.picks, "pick-user", nil, "a user's source id (or DN) that is always in scope (repeat for more)")
	fl.BoolVar(&sf.requireLicense, "require-license", false, "leave out users without an assigned license")
	fl.BoolVar(&sf.requireEmail, "require-email", false, "leave out users without an email address")
	fl.BoolVar(&sf.normalize, "normalize-usernames", false, "use the UPN's prefix as the username")
	fl.BoolVar(&sf.importPhones, "import-phones", false, "validate phones and store them as E.164; invalid ones are reported and dropped")
	fl.StringVar(&sf.phoneRegion, "phone-region", "", "region of phone numbers without a country code, e.g. US")
	fl.BoolVar(&sf.sendEnrollment, "send-enrollment", false, "mail imported users an enrollment link, with reminders (see dirsync enrollments)")
	fl.StringArrayVar(&sf.tags, "tag", nil, "a tag given to the users this source imports (repeat for more)")
	fl.StringVar(&sf.tagMode, "tag-mode", "", "append (default) or replace the users' tags")
	fl.BoolVar(&sf.updateExisting, "update-existing", true, "update users that already exist (false: only create new ones)")
	fl.BoolVar(&sf.processDeletions, "process-deletions", true, "move users and groups gone from the source or out of scope to the trash")
	fl.StringSliceVar(&sf.matchOrder, "match-order", nil, "how unlinked source users meet existing ones: username,email (default) or email,username")
	fl.IntVar(&sf.maxDeletes, "max-deletes", 0, "deletion limit: stop a run that would disable or delete more objects (default 500)")
	fl.IntVar(&sf.maxDeletePercent, "max-delete-percent", 0, "deletion limit in percent of the source's objects (default 20)")
	fl.StringVar(&sf.maxCursorAge, "max-cursor-age", "", "reconcile in full at least this often: a duration (36h, 7d) or off; \"\" for the default (24h for LDAP servers whose incremental reads cannot see deletions, 7d for the others)")
	fl.StringVar(&sf.maxRunTime, "max-run-time", "", "a run still going after this (90m, 4h) fails and applies nothing; \"\" for the default (3h)")
	fl.BoolVar(&sf.asJSON, "json", false, "print the settings as JSON")
}

// sourceSet applies the flags given to the source's settings and stores
// them.
func (a *app) sourceSet(cmd *cobra.Command, key string, sf *scopeFlags) error {
	ctx := cmd.Context()
	m, actor, err := a.open(cmd)
	if err != nil {
		return err
	}
	v, err := m.Source(ctx, actor, key)
	if err != nil {
		return err
	}
	s := v.Scope
	if sf.file != "" {
		data, err := os.ReadFile(sf.file)
		if err != nil {
			return usageErr("read --settings-file: %v", err)
		}
		if s, err = manage.ParseScope(data); err != nil {
			return err
		}
	}
	if err := sf.apply(cmd.Flags(), &s); err != nil {
		return err
	}
	if sf.file == "" && !sf.clearRules && len(sf.rules) == 0 && !anyChanged(cmd.LocalFlags()) {
		return usageErr("nothing to change: give a flag (see dirsync source set --help)")
	}
	v, err = m.SetScope(ctx, actor, key, s)
	if err != nil {
		return err
	}
	if sf.asJSON {
		return a.printJSON(v.Scope)
	}
	a.printf("Settings of %s changed; the next run reconciles in full under them:\n  %s\n", v.Name, strings.Join(v.Scope.Describe(), "\n  "))
	return nil
}

// apply changes s as the flags given say: groups and rules first, then
// the import options.
func (sf *scopeFlags) apply(f *pflag.FlagSet, s *scope.Settings) error {
	if f.Changed("groups-mode") {
		s.Groups.Mode = scope.GroupMode(sf.groupsMode)
		if s.Groups.Mode == scope.ModeAll {
			s.Groups.Selected = nil
		}
	}
	if f.Changed("group") {
		s.Groups.Selected = sf.groups
		if s.Groups.Mode == "" || s.Groups.Mode == scope.ModeAll {
			s.Groups.Mode = scope.ModeFlatten
		}
	}
	if sf.clearRules {
		s.UserRules = nil
	}
	for _, text := range sf.rules {
		r, err := manage.ParseRule(text)
		if err != nil {
			return err
		}
		s.UserRules = append(s.UserRules, r)
	}
	if f.Changed("pick-user") {
		s.PickedUsers = sf.picks
	}
	sf.applyOptions(f, s)
	return nil
}

// applyOptions sets the import options and the deletion limit given.
func (sf *scopeFlags) applyOptions(f *pflag.FlagSet, s *scope.Settings) {
	set := func(name string, apply func()) {
		if f.Changed(name) {
			apply()
		}
	}
	set("require-license", func() { s.RequireLicense = sf.requireLicense })
	set("require-email", func() { s.RequireEmail = sf.requireEmail })
	set("normalize-usernames", func() { s.NormalizeUsernames = sf.normalize })
	set("import-phones", func() { s.ImportPhones = sf.importPhones })
	set("phone-region", func() { s.PhoneRegion = sf.phoneRegion })
	set("send-enrollment", func() { s.SendEnrollment = sf.sendEnrollment })
	set("tag", func() { s.Tags = sf.tags })
	set("tag-mode", func() { s.TagMode = scope.TagMode(sf.tagMode) })
	set("update-existing", func() { s.UpdateExisting = &sf.updateExisting })
	set("process-deletions", func() { s.ProcessDeletions = &sf.processDeletions })
	set("match-order", func() { s.MatchOrder = sf.matchOrder })
	set("max-deletes", func() { s.DeletionLimit.MaxObjects = sf.maxDeletes })
	set("max-delete-percent", func() { s.DeletionLimit.MaxPercent = sf.maxDeletePercent })
	set("max-run-time", func() { s.MaxRunTime = sf.maxRunTime })
	set("max-cursor-age", func() { s.MaxCursorAge = sf.maxCursorAge })
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
