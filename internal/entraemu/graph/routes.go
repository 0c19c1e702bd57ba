package graph

import (
	"github.com/dirsync/dirsync/internal/entraemu/model"
	"github.com/dirsync/dirsync/internal/entraemu/wire"
)

// route is one Graph endpoint.
type route struct {
	pattern string   // a net/http pattern: method and path below /v1.0
	kind    string   // counter name
	perms   []string // any one of these roles allows the call
	write   bool     // counts against the write quota
	h       func(*API, *request) *wire.Response
}

// Any one of a set of application permissions allows a call, as each
// endpoint's "Permissions" table documents (least privileged first).
var (
	permsUserRead    = []string{model.PermUserReadAll, model.PermUserReadWriteAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsGroupRead   = []string{model.PermGroupMemberReadAll, model.PermGroupMemberReadWriteAll, model.PermGroupReadAll, model.PermGroupReadWriteAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsMemberOf    = permsGroupRead
	permsUserWrite   = []string{model.PermUserReadWriteAll, model.PermDirectoryReadWriteAll}
	permsGroupWrite  = []string{model.PermGroupReadWriteAll, model.PermDirectoryReadWriteAll}
	permsMemberWrite = []string{model.PermGroupMemberReadWriteAll, model.PermGroupReadWriteAll, model.PermDirectoryReadWriteAll}
	permsOrg         = []string{model.PermOrganizationReadAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsDomains     = []string{model.PermDomainReadAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsSkus        = []string{model.PermLicenseAssignReadAll, model.PermOrganizationReadAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsDirRead     = []string{model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll, model.PermUserReadAll, model.PermUserReadWriteAll, model.PermGroupReadAll, model.PermGroupReadWriteAll, model.PermGroupMemberReadAll}
	permsDeletedRead = permsUserRead
	permsRestore     = []string{model.PermUserReadWriteAll, model.PermGroupReadWriteAll, model.PermDirectoryReadWriteAll}
	permsAppRead     = []string{model.PermApplicationReadAll, model.PermApplicationReadWriteAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsDeviceRead  = []string{model.PermDeviceReadAll, model.PermDeviceReadWriteAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsContactRead = []string{model.PermOrgContactReadAll, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
	permsRoleRead    = []string{model.PermRoleManagementReadDir, model.PermDirectoryReadAll, model.PermDirectoryReadWriteAll}
)

// routes is the route table. net/http picks the most specific pattern, so
// /users/delta wins over /users/{id}; paths reach it normalized (see
// normalize).
var routes = []route{
	{"GET /v1.0/organization", "organization", permsOrg, false, (*API).getOrganization},
	{"GET /v1.0/organization/{id}", "organization", permsOrg, false, (*API).getOrganization},
	{"GET /v1.0/domains", "domains", permsDomains, false, (*API).listDomains},
	{"GET /v1.0/domains/{id}", "domains", permsDomains, false, (*API).getDomain},
	{"GET /v1.0/subscribedSkus", "subscribedSkus", permsSkus, false, (*API).getSkus},
	{"GET /v1.0/subscribedSkus/{id}", "subscribedSkus", permsSkus, false, (*API).getSkus},
	{"GET /v1.0/directoryObjects/{id}", "directoryObjects", permsDirRead, false, (*API).getDirectoryObject},

	{"GET /v1.0/directory/deletedItems/microsoft.graph.user", "deletedItems", permsDeletedRead, false, (*API).listDeletedUsers},
	{"GET /v1.0/directory/deletedItems/microsoft.graph.group", "deletedItems", permsDeletedRead, false, (*API).listDeletedGroups},
	{"GET /v1.0/directory/deletedItems/{id}", "deletedItems", permsDeletedRead, false, (*API).getDeleted},
	{"DELETE /v1.0/directory/deletedItems/{id}", "deletedItems", permsRestore, true, (*API).purgeDeleted},
	{"POST /v1.0/directory/deletedItems/{id}/restore", "restore", permsRestore, true, (*API).restoreDeleted},

	{"GET /v1.0/users", "users", permsUserRead, false, (*API).listUsers},
	{"POST /v1.0/users", "users.create", permsUserWrite, true, (*API).postUser},
	{"GET /v1.0/users/$count", "users.count", permsUserRead, false, (*API).countUsers},
	{"GET /v1.0/users/delta", "users.delta", permsUserRead, false, (*API).userDelta},
	{"GET /v1.0/users/{id}", "user", permsUserRead, false, (*API).getUser},
	{"PATCH /v1.0/users/{id}", "user.update", permsUserWrite, true, (*API).patchUser},
	{"DELETE /v1.0/users/{id}", "user.delete", permsUserWrite, true, (*API).deleteUser},
	{"GET /v1.0/users/{id}/memberOf", "memberOf", permsMemberOf, false, (*API).userMemberOf},
	{"GET /v1.0/users/{id}/memberOf/{rest...}", "memberOf", permsMemberOf, false, (*API).userMemberOf},
	{"GET /v1.0/users/{id}/transitiveMemberOf", "transitiveMemberOf", permsMemberOf, false, (*API).userMemberOf},
	{"GET /v1.0/users/{id}/transitiveMemberOf/{rest...}", "transitiveMemberOf", permsMemberOf, false, (*API).userMemberOf},

	{"GET /v1.0/groups", "groups", permsGroupRead, false, (*API).listGroups},
	{"POST /v1.0/groups", "groups.create", permsGroupWrite, true, (*API).postGroup},
	{"GET /v1.0/groups/$count", "groups.count", permsGroupRead, false, (*API).countGroups},
	{"GET /v1.0/groups/delta", "groups.delta", permsGroupRead, false, (*API).groupDelta},
	{"GET /v1.0/groups/{id}", "group", permsGroupRead, false, (*API).getGroup},
	{"PATCH /v1.0/groups/{id}", "group.update", permsGroupWrite, true, (*API).patchGroup},
	{"DELETE /v1.0/groups/{id}", "group.delete", permsGroupWrite, true, (*API).deleteGroup},
	{"POST /v1.0/groups/{id}/members/$ref", "members.add", permsMemberWrite, true, (*API).postMemberRef},
	{"DELETE /v1.0/groups/{id}/members/{member}/$ref", "members.remove", permsMemberWrite, true, (*API).deleteMemberRef},
	{"GET /v1.0/groups/{id}/members", "members", permsGroupRead, false, (*API).groupMembers},
	{"GET /v1.0/groups/{id}/members/{rest...}", "members", permsGroupRead, false, (*API).groupMembers},
	{"GET /v1.0/groups/{id}/transitiveMembers", "transitiveMembers", permsGroupRead, false, (*API).groupMembers},
	{"GET /v1.0/groups/{id}/transitiveMembers/{rest...}", "transitiveMembers", permsGroupRead, false, (*API).groupMembers},
	{"GET /v1.0/groups/{id}/memberOf", "group.memberOf", permsMemberOf, false, (*API).groupMemberOf},
	{"GET /v1.0/groups/{id}/memberOf/{rest...}", "group.memberOf", permsMemberOf, false, (*API).groupMemberOf},
	{"GET /v1.0/groups/{id}/transitiveMemberOf", "group.transitiveMemberOf", permsMemberOf, false, (*API).groupMemberOf},
	{"GET /v1.0/groups/{id}/transitiveMemberOf/{rest...}", "group.transitiveMemberOf", permsMemberOf, false, (*API).groupMemberOf},

	{"GET /v1.0/servicePrincipals", "servicePrincipals", permsAppRead, false, (*API).listServicePrincipals},
	{"GET /v1.0/servicePrincipals/$count", "servicePrincipals.count", permsAppRead, false, (*API).countServicePrincipals},
	{"GET /v1.0/servicePrincipals/delta", "servicePrincipals.delta", permsAppRead, false, (*API).servicePrincipalDelta},
	{"GET /v1.0/servicePrincipals/{id}", "servicePrincipal", permsAppRead, false, (*API).getServicePrincipal},
	{"GET /v1.0/servicePrincipals/{id}/memberOf", "servicePrincipal.memberOf", permsAppRead, false, (*API).servicePrincipalMemberOf},
	{"GET /v1.0/servicePrincipals/{id}/memberOf/{rest...}", "servicePrincipal.memberOf", permsAppRead, false, (*API).servicePrincipalMemberOf},
	{"GET /v1.0/servicePrincipals/{id}/transitiveMemberOf", "servicePrincipal.transitiveMemberOf", permsAppRead, false, (*API).servicePrincipalMemberOf},
	{"GET /v1.0/applications", "applications", permsAppRead, false, (*API).listApplications},
	{"GET /v1.0/applications/$count", "applications.count", permsAppRead, false, (*API).countApplications},
	{"GET /v1.0/applications/{id}", "application", permsAppRead, false, (*API).getApplication},
	{"GET /v1.0/devices", "devices", permsDeviceRead, false, (*API).listDevices},
	{"GET /v1.0/devices/$count", "devices.count", permsDeviceRead, false, (*API).countDevices},
	{"GET /v1.0/devices/delta", "devices.delta", permsDeviceRead, false, (*API).deviceDelta},
	{"GET /v1.0/devices/{id}", "device", permsDeviceRead, false, (*API).getDevice},
	{"GET /v1.0/devices/{id}/memberOf", "device.memberOf", permsDeviceRead, false, (*API).deviceMemberOf},
	{"GET /v1.0/devices/{id}/memberOf/{rest...}", "device.memberOf", permsDeviceRead, false, (*API).deviceMemberOf},
	{"GET /v1.0/devices/{id}/transitiveMemberOf", "device.transitiveMemberOf", permsDeviceRead, false, (*API).deviceMemberOf},
	{"GET /v1.0/contacts", "contacts", permsContactRead, false, (*API).listContacts},
	{"GET /v1.0/contacts/$count", "contacts.count", permsContactRead, false, (*API).countContacts},
	{"GET /v1.0/contacts/delta", "contacts.delta", permsContactRead, false, (*API).contactDelta},
	{"GET /v1.0/contacts/{id}", "contact", permsContactRead, false, (*API).getContact},
	{"GET /v1.0/contacts/{id}/memberOf", "contact.memberOf", permsContactRead, false, (*API).contactMemberOf},
	{"GET /v1.0/contacts/{id}/memberOf/{rest...}", "contact.memberOf", permsContactRead, false, (*API).contactMemberOf},
	{"GET /v1.0/contacts/{id}/transitiveMemberOf", "contact.transitiveMemberOf", permsContactRead, false, (*API).contactMemberOf},
	{"GET /v1.0/directoryRoles", "directoryRoles", permsRoleRead, false, (*API).listDirectoryRoles},
	{"GET /v1.0/directoryRoles/{id}", "directoryRole", permsRoleRead, false, (*API).getDirectoryRole},
	{"GET /v1.0/directoryRoles/{id}/members", "directoryRole.members", permsRoleRead, false, (*API).directoryRoleMembers},
	{"GET /v1.0/directoryRoles/{id}/members/{rest...}", "directoryRole.members", permsRoleRead, false, (*API).directoryRoleMembers},
}
