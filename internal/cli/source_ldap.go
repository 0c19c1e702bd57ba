package cli

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/connector/ldap"
	"github.com/dirsync/dirsync/internal/directory"
	"github.com/dirsync/dirsync/internal/manage"
)

func (a *app) sourceAddLDAPCommand() *cobra.Command {
	var (
		name, description, baseDN, bindDN, caFile, userFilter, groupFilter string
		urls, includeOUs, excludeOUs, suffixMaps                           []string
		startTLS, insecure, asJSON                                         bool
		pw                                                                 secretFlags
	)
	cmd := &cobra.Command{
		Use:   "ldap --name NAME --url ldaps://HOST --base-dn DN --bind-dn DN --bind-password-file FILE",
		Short: "Add an Active Directory domain or another LDAP directory",
		Long: `Add an Active Directory domain or another LDAP directory, read with a service
account's simple bind over LDAPS (or StartTLS). Certificates are verified;
give --ca-file when the directory's CA is not in the system store.

--ou limits the sync to subtrees (repeat it); --exclude-ou leaves subtrees out.
An OU that vanishes or is renamed stops the sync instead of reading as
"everyone left". --upn-suffix-map corp.local=corp.example.com rewrites
non-routable UPN suffixes. Flags that take a DN repeat and never split it at
its commas.

The source syncs daily at a time of day derived from its id (see
"dirsync source schedule" to change it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := ldap.Config{
				URLs: urls, BaseDN: baseDN, BindDN: bindDN, StartTLS: startTLS, InsecureSkipVerify: insecure,
				IncludeOUs: includeOUs, ExcludeOUs: excludeOUs, UserFilter: userFilter, GroupFilter: groupFilter,
			}
			var err error
			if cfg.CAPEM, err = readCAFile(caFile); err != nil {
				return err
			}
			if cfg.UPNSuffixMap, err = manage.ParseUPNSuffixMap(suffixMaps); err != nil {
				return usageErr("--upn-suffix-map: %s", manage.AsError(err).Message)
			}
			password, err := pw.read(a, cmd)
			if err != nil {
				return err
			}
			if password == nil {
				return usageErr("the bind password is required: --bind-password-file FILE, --bind-password-file - (standard input) or --bind-password-env VAR")
			}
			if insecure {
				a.printf("WARNING: TLS certificate verification is OFF for this source (--insecure-skip-tls-verify). Use it only in a lab.\n")
			}
			return a.addSource(cmd, name, description, directory.KindLDAP, cfg, password, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a name for the source, unique in the account (required)")
	f.StringVar(&description, "description", "", "a description")
	f.StringArrayVar(&urls, "url", nil, "server URL, ldaps://HOST[:636] or ldap://HOST with --start-tls; repeat for failover (required)")
	f.StringVar(&baseDN, "base-dn", "", "where to search, e.g. DC=corp,DC=example,DC=com (required)")
	f.StringVar(&bindDN, "bind-dn", "", "the service account's DN or user@domain (required)")
	pw.register(cmd, "bind-password", "bind password")
	f.StringVar(&caFile, "ca-file", "", "PEM file of CA certificates to trust")
	f.BoolVar(&startTLS, "start-tls", false, "upgrade ldap:// with StartTLS")
	f.BoolVar(&insecure, "insecure-skip-tls-verify", false, "DANGEROUS: do not verify the server's certificate (labs only)")
	// DNs hold commas: these flags repeat, and never split a value.
	f.StringArrayVar(&includeOUs, "ou", nil, "only this subtree, a DN such as OU=Staff,DC=corp,DC=example,DC=com (repeat for more)")
	f.StringArrayVar(&excludeOUs, "exclude-ou", nil, "leave this subtree out, a DN (repeat for more)")
	f.StringVar(&userFilter, "user-filter", "", "extra LDAP filter for users (RFC 4515)")
	f.StringVar(&groupFilter, "group-filter", "", "extra LDAP filter for groups (RFC 4515)")
	f.StringArrayVar(&suffixMaps, "upn-suffix-map", nil, "rewrite a UPN suffix, FROM=TO (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the new source as JSON")
	cmd.MarkFlagRequired("name")
	return cmd
}
