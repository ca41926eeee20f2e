// Built-in catalogs. Keep in sync with docs/catalog-format.md and
// ../shared/reference/endpoint-catalog.md (tests/unit/catalog_test.cc checks
// every row).
#include "absl/strings/string_view.h"
#include "common/policy/catalog.h"

namespace pat::policy {
namespace {

// Rows 1-51 of the vendor's endpoint catalog, in order ("# n" = row number).
// Legacy "files:read" is accepted where the catalog says "(or legacy
// files:read)". plan_tokens=no: rows 10, 11, 13, 14, 36 (scopes plan tokens may
// not hold), 15 /v1/me and 47 /v1/oembed (excluded endpoints), 33 /v1/payments
// (personal access tokens only) and 51 /v1/discovery (OAuth only).
// Resources: "lookup" and "body" selectors cannot be determined by the
// sidecar, so those endpoints are for all-resources tokens only (and the
// upstream must check X-Pat-Plan-Id). GET /v2/webhooks (row 25) names its
// resource in the query, by context+context_id OR plan_api_id (both at once
// is ambiguous and denied); POST /v2/webhooks (26) in the JSON body by
// context+context_id or the older team_id; POST /v1/dev_resources (38) by
// every dev_resources[].file_key. PUT /v1/dev_resources (39) names dev
// resource ids, which only the API can map to files: undeterminable.
constexpr absl::string_view kRestCatalog =
    R"catalog(# pat built-in REST API catalog (docs/catalog-format.md).
# METHOD PATH scopes=ANY|OF plan_tokens=yes|no resource=SELECTOR error_style=A|B|AB name=operationId
GET /v1/files/{file_key} scopes=file_content:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getFile  # 1
GET /v1/files/{file_key}/nodes scopes=file_content:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getFileNodes  # 2
GET /v1/images/{file_key} scopes=file_content:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getImages  # 3
GET /v1/files/{file_key}/images scopes=file_content:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getImageFills  # 4
GET /v1/files/{file_key}/meta scopes=file_metadata:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getFileMeta  # 5
GET /v1/teams/{team_id}/projects scopes=projects:read|files:read plan_tokens=yes resource=path:team_id error_style=AB name=getTeamProjects  # 6
GET /v1/projects/{project_id}/files scopes=projects:read|files:read plan_tokens=yes resource=path:project_id error_style=AB name=getProjectFiles  # 7
GET /v1/files/{file_key}/versions scopes=file_versions:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getFileVersions  # 8
GET /v1/files/{file_key}/comments scopes=file_comments:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getComments  # 9
POST /v1/files/{file_key}/comments scopes=file_comments:write plan_tokens=no resource=path:file_key error_style=AB name=postComment  # 10
DELETE /v1/files/{file_key}/comments/{comment_id} scopes=file_comments:write plan_tokens=no resource=path:file_key error_style=A name=deleteComment  # 11
GET /v1/files/{file_key}/comments/{comment_id}/reactions scopes=file_comments:read|files:read plan_tokens=yes resource=path:file_key error_style=A name=getCommentReactions  # 12
POST /v1/files/{file_key}/comments/{comment_id}/reactions scopes=file_comments:write plan_tokens=no resource=path:file_key error_style=AB name=postCommentReaction  # 13
DELETE /v1/files/{file_key}/comments/{comment_id}/reactions scopes=file_comments:write plan_tokens=no resource=path:file_key error_style=A name=deleteCommentReaction  # 14
GET /v1/me scopes=current_user:read|files:read plan_tokens=no resource=none error_style=A name=getMe  # 15
GET /v1/teams/{team_id}/components scopes=team_library_content:read|files:read plan_tokens=yes resource=path:team_id error_style=AB name=getTeamComponents  # 16
GET /v1/files/{file_key}/components scopes=library_content:read|files:read plan_tokens=yes resource=path:file_key error_style=AB name=getFileComponents  # 17
GET /v1/components/{key} scopes=library_assets:read|files:read plan_tokens=yes resource=lookup:component:key error_style=AB name=getComponent  # 18
GET /v1/teams/{team_id}/component_sets scopes=team_library_content:read|files:read plan_tokens=yes resource=path:team_id error_style=AB name=getTeamComponentSets  # 19
GET /v1/files/{file_key}/component_sets scopes=library_content:read|files:read plan_tokens=yes resource=path:file_key error_style=AB name=getFileComponentSets  # 20
GET /v1/component_sets/{key} scopes=library_assets:read|files:read plan_tokens=yes resource=lookup:component_set:key error_style=AB name=getComponentSet  # 21
GET /v1/teams/{team_id}/styles scopes=team_library_content:read|files:read plan_tokens=yes resource=path:team_id error_style=AB name=getTeamStyles  # 22
GET /v1/files/{file_key}/styles scopes=library_content:read|files:read plan_tokens=yes resource=path:file_key error_style=AB name=getFileStyles  # 23
GET /v1/styles/{key} scopes=library_assets:read|files:read plan_tokens=yes resource=lookup:style:key error_style=AB name=getStyle  # 24
GET /v2/webhooks scopes=webhooks:read plan_tokens=yes resource=query:context:context+context_id|plan:plan_api_id error_style=AB name=getWebhooks  # 25
POST /v2/webhooks scopes=webhooks:write plan_tokens=yes resource=json:context:context+context_id|team:team_id error_style=AB name=postWebhook  # 26
GET /v2/webhooks/{webhook_id} scopes=webhooks:read|files:read plan_tokens=yes resource=lookup:webhook:webhook_id error_style=AB name=getWebhook  # 27
PUT /v2/webhooks/{webhook_id} scopes=webhooks:write plan_tokens=yes resource=lookup:webhook:webhook_id error_style=AB name=putWebhook  # 28
DELETE /v2/webhooks/{webhook_id} scopes=webhooks:write plan_tokens=yes resource=lookup:webhook:webhook_id error_style=AB name=deleteWebhook  # 29
GET /v2/teams/{team_id}/webhooks scopes=webhooks:read|files:read plan_tokens=yes resource=path:team_id error_style=A name=getTeamWebhooks  # 30
GET /v2/webhooks/{webhook_id}/requests scopes=webhooks:read|files:read plan_tokens=yes resource=lookup:webhook:webhook_id error_style=AB name=getWebhookRequests  # 31
GET /v1/activity_logs scopes=org:activity_log_read plan_tokens=yes resource=none error_style=B name=getActivityLogs  # 32
GET /v1/payments scopes=- plan_tokens=no resource=none error_style=B name=getPayments  # 33 (personal access tokens only)
GET /v1/files/{file_key}/variables/local scopes=file_variables:read plan_tokens=yes resource=path:file_key error_style=B name=getLocalVariables  # 34
GET /v1/files/{file_key}/variables/published scopes=file_variables:read plan_tokens=yes resource=path:file_key error_style=B name=getPublishedVariables  # 35
POST /v1/files/{file_key}/variables scopes=file_variables:write plan_tokens=no resource=path:file_key error_style=B name=postVariables  # 36
GET /v1/files/{file_key}/dev_resources scopes=file_dev_resources:read plan_tokens=yes resource=path:file_key error_style=B name=getDevResources  # 37
POST /v1/dev_resources scopes=file_dev_resources:write plan_tokens=yes resource=json:file:dev_resources[].file_key error_style=B name=postDevResources  # 38
PUT /v1/dev_resources scopes=file_dev_resources:write plan_tokens=yes resource=body:dev_resources[].id error_style=B name=putDevResources  # 39
DELETE /v1/files/{file_key}/dev_resources/{dev_resource_id} scopes=file_dev_resources:write plan_tokens=yes resource=path:file_key error_style=B name=deleteDevResource  # 40
GET /v1/analytics/libraries/{file_key}/component/actions scopes=library_analytics:read plan_tokens=yes resource=path:file_key error_style=B name=getLibraryAnalyticsComponentActions  # 41
GET /v1/analytics/libraries/{file_key}/component/usages scopes=library_analytics:read plan_tokens=yes resource=path:file_key error_style=B name=getLibraryAnalyticsComponentUsages  # 42
GET /v1/analytics/libraries/{file_key}/style/actions scopes=library_analytics:read plan_tokens=yes resource=path:file_key error_style=B name=getLibraryAnalyticsStyleActions  # 43
GET /v1/analytics/libraries/{file_key}/style/usages scopes=library_analytics:read plan_tokens=yes resource=path:file_key error_style=B name=getLibraryAnalyticsStyleUsages  # 44
GET /v1/analytics/libraries/{file_key}/variable/actions scopes=library_analytics:read plan_tokens=yes resource=path:file_key error_style=B name=getLibraryAnalyticsVariableActions  # 45
GET /v1/analytics/libraries/{file_key}/variable/usages scopes=library_analytics:read plan_tokens=yes resource=path:file_key error_style=B name=getLibraryAnalyticsVariableUsages  # 46
GET /v1/oembed scopes=file_metadata:read plan_tokens=no resource=none error_style=AB name=getOEmbed  # 47 (query url -> file)
GET /v1/projects/{project_id}/meta scopes=project_metadata:read plan_tokens=yes resource=path:project_id error_style=A name=getProjectMeta  # 48
POST /v1/developer_logs scopes=org:developer_log_read plan_tokens=yes resource=none error_style=B name=getDeveloperLogs  # 49 (plan tokens only)
GET /v1/ai_usage/daily scopes=org:ai_metering_usage_read plan_tokens=yes resource=none error_style=A name=getAiUsageDaily  # 50 (plan tokens only)
GET /v1/discovery scopes=org:discovery_read plan_tokens=no resource=none error_style=B name=getDiscovery  # 51 (OAuth only)
)catalog";

// npm registry endpoints: what npm 11, pnpm 9 and yarn 1 send, captured
// against verdaccio (docs/npm-clients.md maps every client command to these
// rows). Scoped packages are /@scope/name; npm mode of the path rule also
// accepts the one-segment "@scope%2fname" / "@scope%2Fname" the clients send
// and decides on the decoded package. Scoped rows select path:npm_scope:scope;
// unscoped packages belong to no npm scope (resource=none: all-resources
// tokens only). Every row is error_style=npm: denials carry "error", the field
// npm prints. People-management endpoints (tokens, login, profile, owners'
// user lookup, collaborators, orgs, teams, hooks, stars) are plan_tokens=no.
constexpr absl::string_view kNpmCatalog =
    R"catalog(# pat built-in npm registry catalog (docs/catalog-format.md, docs/npm-clients.md).
# Registry-level: ping concerns no package (any usable npm token); whoami is
# answered by the sidecar itself with {"username": "<token id>"}.
GET /-/ping scopes=packages:read|packages:write plan_tokens=yes resource=unscoped error_style=npm name=ping
GET /-/whoami scopes=packages:read|packages:write plan_tokens=yes resource=unscoped answer=whoami error_style=npm name=whoami
GET /-/v1/search scopes=packages:read plan_tokens=yes resource=none error_style=npm name=search

# Audit: the body lists the dependency tree; the answer is advisory data
# about public package versions, no plan resource.
POST /-/npm/v1/security/advisories/bulk scopes=packages:read plan_tokens=yes resource=unscoped error_style=npm name=auditBulk
POST /-/npm/v1/security/audits/quick scopes=packages:read plan_tokens=yes resource=unscoped error_style=npm name=auditQuick
POST /-/npm/v1/security/audits scopes=packages:read plan_tokens=yes resource=unscoped error_style=npm name=audit

# Package metadata (packument, also with ?write=true before a write) and one
# version's manifest.
GET /{package} scopes=packages:read plan_tokens=yes resource=none error_style=npm name=getPackage
GET /@{scope}/{package} scopes=packages:read plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=getScopedPackage
GET /{package}/{version} scopes=packages:read plan_tokens=yes resource=none error_style=npm name=getPackageVersion
GET /@{scope}/{package}/{version} scopes=packages:read plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=getScopedPackageVersion

# Tarballs.
GET /{package}/-/{tarball} scopes=packages:read plan_tokens=yes resource=none error_style=npm name=getTarball
GET /@{scope}/{package}/-/{tarball} scopes=packages:read plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=getScopedTarball

# Publish; also deprecate and star, which rewrite the packument the same way.
PUT /{package} scopes=packages:write plan_tokens=yes resource=none error_style=npm name=publishPackage
PUT /@{scope}/{package} scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=publishScopedPackage

# Unpublish (and owner add/rm): rewrite the packument at a revision, delete
# it, delete a tarball.
PUT /{package}/-rev/{rev} scopes=packages:write plan_tokens=yes resource=none error_style=npm name=updatePackageRevision
PUT /@{scope}/{package}/-rev/{rev} scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=updateScopedPackageRevision
DELETE /{package}/-rev/{rev} scopes=packages:write plan_tokens=yes resource=none error_style=npm name=unpublishPackage
DELETE /@{scope}/{package}/-rev/{rev} scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=unpublishScopedPackage
DELETE /{package}/-/{tarball}/-rev/{rev} scopes=packages:write plan_tokens=yes resource=none error_style=npm name=deleteTarball
DELETE /@{scope}/{package}/-/{tarball}/-rev/{rev} scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=deleteScopedTarball

# dist-tags: list, replace all, merge, set one, remove one.
GET /-/package/{package}/dist-tags scopes=packages:read plan_tokens=yes resource=none error_style=npm name=getDistTags
GET /-/package/@{scope}/{package}/dist-tags scopes=packages:read plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=getScopedDistTags
PUT /-/package/{package}/dist-tags scopes=packages:write plan_tokens=yes resource=none error_style=npm name=replaceDistTags
PUT /-/package/@{scope}/{package}/dist-tags scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=replaceScopedDistTags
POST /-/package/{package}/dist-tags scopes=packages:write plan_tokens=yes resource=none error_style=npm name=mergeDistTags
POST /-/package/@{scope}/{package}/dist-tags scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=mergeScopedDistTags
PUT /-/package/{package}/dist-tags/{tag} scopes=packages:write plan_tokens=yes resource=none error_style=npm name=putDistTag
PUT /-/package/@{scope}/{package}/dist-tags/{tag} scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=putScopedDistTag
DELETE /-/package/{package}/dist-tags/{tag} scopes=packages:write plan_tokens=yes resource=none error_style=npm name=deleteDistTag
DELETE /-/package/@{scope}/{package}/dist-tags/{tag} scopes=packages:write plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=deleteScopedDistTag

# npm access get status: reads a package's visibility.
GET /-/package/{package}/visibility scopes=packages:read plan_tokens=yes resource=none error_style=npm name=getVisibility
GET /-/package/@{scope}/{package}/visibility scopes=packages:read plan_tokens=yes resource=path:npm_scope:scope error_style=npm name=getScopedVisibility

# Who may see or change a package is decided by people, never by plan tokens:
# npm access set / grant / revoke / list, npm owner add / rm (the user
# lookup), npm org, npm team.
POST /-/package/{package}/access scopes=packages:write plan_tokens=no resource=none error_style=npm name=setAccess
POST /-/package/@{scope}/{package}/access scopes=packages:write plan_tokens=no resource=path:npm_scope:scope error_style=npm name=setScopedAccess
GET /-/package/{package}/collaborators scopes=packages:read plan_tokens=no resource=none error_style=npm name=listCollaborators
GET /-/package/@{scope}/{package}/collaborators scopes=packages:read plan_tokens=no resource=path:npm_scope:scope error_style=npm name=listScopedCollaborators
GET /-/org/{org}/package scopes=packages:read plan_tokens=no resource=none error_style=npm name=listOrgPackages
GET /-/user/{user}/package scopes=packages:read plan_tokens=no resource=none error_style=npm name=listUserPackages
GET /-/org/{org}/user scopes=packages:read plan_tokens=no resource=none error_style=npm name=listOrgUsers
PUT /-/org/{org}/user scopes=packages:write plan_tokens=no resource=none error_style=npm name=setOrgUser
DELETE /-/org/{org}/user scopes=packages:write plan_tokens=no resource=none error_style=npm name=removeOrgUser
GET /-/org/{org}/team scopes=packages:read plan_tokens=no resource=none error_style=npm name=listTeams
PUT /-/org/{org}/team scopes=packages:write plan_tokens=no resource=none error_style=npm name=createTeam
DELETE /-/team/{org}/{team} scopes=packages:write plan_tokens=no resource=none error_style=npm name=deleteTeam
GET /-/team/{org}/{team}/user scopes=packages:read plan_tokens=no resource=none error_style=npm name=listTeamUsers
PUT /-/team/{org}/{team}/user scopes=packages:write plan_tokens=no resource=none error_style=npm name=addTeamUser
DELETE /-/team/{org}/{team}/user scopes=packages:write plan_tokens=no resource=none error_style=npm name=removeTeamUser
GET /-/team/{org}/{team}/package scopes=packages:read plan_tokens=no resource=none error_style=npm name=listTeamPackages
PUT /-/team/{org}/{team}/package scopes=packages:write plan_tokens=no resource=none error_style=npm name=grantTeamPackage
DELETE /-/team/{org}/{team}/package scopes=packages:write plan_tokens=no resource=none error_style=npm name=revokeTeamPackage

# Accounts: login/adduser, logout, profile, user lookup (npm owner add/rm),
# the stars of a user (npm stars).
PUT /-/user/org.couchdb.user:{user} scopes=packages:write plan_tokens=no resource=none error_style=npm name=addUser
GET /-/user/org.couchdb.user:{user} scopes=packages:read plan_tokens=no resource=none error_style=npm name=getUser
DELETE /-/user/token/{token} scopes=packages:write plan_tokens=no resource=none error_style=npm name=logout
POST /-/v1/login scopes=packages:write plan_tokens=no resource=none error_style=npm name=webLogin
GET /-/npm/v1/user scopes=packages:read plan_tokens=no resource=none error_style=npm name=getProfile
POST /-/npm/v1/user scopes=packages:write plan_tokens=no resource=none error_style=npm name=setProfile
GET /-/_view/starredByUser scopes=packages:read plan_tokens=no resource=none error_style=npm name=starredByUser

# Token management is for people, never for plan tokens.
GET /-/npm/v1/tokens scopes=packages:read plan_tokens=no resource=none error_style=npm name=listTokens
POST /-/npm/v1/tokens scopes=packages:write plan_tokens=no resource=none error_style=npm name=createToken
DELETE /-/npm/v1/tokens/token/{token_key} scopes=packages:write plan_tokens=no resource=none error_style=npm name=deleteToken

# Hooks (npm hook) notify people's endpoints; not for plan tokens.
GET /-/npm/v1/hooks scopes=packages:read plan_tokens=no resource=none error_style=npm name=listHooks
POST /-/npm/v1/hooks/hook scopes=packages:write plan_tokens=no resource=none error_style=npm name=addHook
GET /-/npm/v1/hooks/hook/{hook_id} scopes=packages:read plan_tokens=no resource=none error_style=npm name=getHook
PUT /-/npm/v1/hooks/hook/{hook_id} scopes=packages:write plan_tokens=no resource=none error_style=npm name=updateHook
DELETE /-/npm/v1/hooks/hook/{hook_id} scopes=packages:write plan_tokens=no resource=none error_style=npm name=deleteHook
)catalog";

}  // namespace

absl::string_view DefaultRestCatalogText() { return kRestCatalog; }
absl::string_view DefaultNpmCatalogText() { return kNpmCatalog; }

}  // namespace pat::policy
