#!/usr/bin/env node
// One-off generator: turns the OpenAPI-generated models of the npm package
// @kubernetes/client-node (1.4.0, spec v1.34.0) into one compact resource
//   apiserver/src/main/resources/dev/skiff/apiserver/schema/definitions.json.gz
// shaped like OpenAPI v3 `components.schemas` with upstream definition names.
//
// Usage:  node apiserver/tools/gen-schemas.mjs <path-to-unpacked-client-node/package>
//   (default: ../schema-src-client-node/package next to the work tree)
//
// Why this is not trivial: client-node names most types "V1Foo" with no group, so the
// generator recovers each type's group from the REST paths in dist/gen/apis/*Api.js
// (top-level kinds) and then propagates it down the reference graph (core and meta
// first, so shared types stay in the package that owns them), with a small table of
// overrides where reachability guesses wrong. The overrides were checked against the
// per-group layout of the npm package kubernetes-types 1.30.
// Only stable versions (v1, v2) are emitted: client-node also ships stale alpha/beta
// files from older releases, and Skiff serves only stable group-versions.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const srcPkg = path.resolve(process.argv[2] ?? path.join(repoRoot, '..', 'schema-src-client-node', 'package'));
const modelsDir = path.join(srcPkg, 'dist/gen/models');
const apisDir = path.join(srcPkg, 'dist/gen/apis');
const outFile = path.join(repoRoot, 'apiserver/src/main/resources/dev/skiff/apiserver/schema/definitions.json.gz');

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const REF = (n) => '#/components/schemas/' + n;
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';

// meta/v1 types (apimachinery), per kubernetes-types meta/v1.d.ts
const META_TYPES = new Set(('APIGroup APIGroupList APIResource APIResourceList APIVersions Condition DeleteOptions ' +
  'FieldsV1 GroupVersionForDiscovery LabelSelector LabelSelectorRequirement ListMeta ManagedFieldsEntry MicroTime ' +
  'ObjectMeta OwnerReference Patch Preconditions ServerAddressByClientCIDR Status StatusCause StatusDetails Time WatchEvent').split(' '));

// Types whose group reachability gets wrong (shortName@version -> group).
const GROUP_OVERRIDES = {
  'Scale@v1': 'autoscaling',          // served under apps/core .../scale, defined in autoscaling/v1
  'Eviction@v1': 'policy',            // served under core pods/{name}/eviction, defined in policy/v1
  'TopologySelectorTerm@v1': 'core',  // only used by storage.k8s.io StorageClass
  'TopologySelectorLabelRequirement@v1': 'core',
  'TokenRequest@v1': 'authentication',
  'BoundObjectReference@v1': 'authentication',
};

// Group -> upstream Go package prefix of definition names.
function pkgOf(group, version) {
  if (group === 'core') return `io.k8s.api.core.${version}`;
  if (group === 'meta') return META;
  if (group === 'apiextensions.k8s.io') return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${version}`;
  if (group === 'apiregistration.k8s.io') return `io.k8s.kube-aggregator.pkg.apis.apiregistration.${version}`;
  if (group === 'internal.apiserver.k8s.io') return `io.k8s.api.apiserverinternal.${version}`;
  return `io.k8s.api.${group.split('.')[0]}.${version}`;
}
const PREFIX_GROUPS = {
  Core: 'core', Events: 'events.k8s.io', Discovery: 'discovery.k8s.io', Storage: 'storage.k8s.io',
  Authentication: 'authentication.k8s.io', Rbac: 'rbac.authorization.k8s.io', Flowcontrol: 'flowcontrol.apiserver.k8s.io',
  Admissionregistration: 'admissionregistration.k8s.io', Apiextensions: 'apiextensions.k8s.io',
  Apiregistration: 'apiregistration.k8s.io', Resource: 'resource.k8s.io',
};
const SHORT_GROUPS = { autoscaling: 'autoscaling', apps: 'apps', batch: 'batch', policy: 'policy' };
const fullGroup = (g) => SHORT_GROUPS[g] ?? (g === 'core' || g === 'meta' || g.includes('.') ? g : g + '.k8s.io');

// Quantity-typed fields (client-node flattens Quantity to "string"); from kubernetes-types 1.30 plus 1.31+ additions.
const QUANTITY_FIELDS = new Set((
  'autoscaling/v2:MetricTarget.averageValue autoscaling/v2:MetricTarget.value autoscaling/v2:MetricValueStatus.averageValue ' +
  'autoscaling/v2:MetricValueStatus.value core/v1:ContainerStatus.allocatedResources core/v1:EmptyDirVolumeSource.sizeLimit ' +
  'core/v1:LimitRangeItem.default core/v1:LimitRangeItem.defaultRequest core/v1:LimitRangeItem.max ' +
  'core/v1:LimitRangeItem.maxLimitRequestRatio core/v1:LimitRangeItem.min core/v1:NodeStatus.allocatable ' +
  'core/v1:NodeStatus.capacity core/v1:PersistentVolumeClaimStatus.allocatedResources ' +
  'core/v1:PersistentVolumeClaimStatus.capacity core/v1:PersistentVolumeSpec.capacity core/v1:PodSpec.overhead ' +
  'core/v1:ResourceFieldSelector.divisor core/v1:ResourceQuotaSpec.hard core/v1:ResourceQuotaStatus.hard ' +
  'core/v1:ResourceQuotaStatus.used core/v1:ResourceRequirements.limits core/v1:ResourceRequirements.requests ' +
  'core/v1:VolumeResourceRequirements.limits core/v1:VolumeResourceRequirements.requests node/v1:Overhead.podFixed ' +
  'storage/v1:CSIStorageCapacity.capacity storage/v1:CSIStorageCapacity.maximumVolumeSize ' +
  'resource/v1:Counter.value resource/v1:DeviceCapacity.value resource/v1:CapacityRequestPolicy.default ' +
  'resource/v1:CapacityRequestPolicy.validValues resource/v1:CapacityRequestPolicyRange.min ' +
  'resource/v1:CapacityRequestPolicyRange.max resource/v1:CapacityRequestPolicyRange.step ' +
  'resource/v1:CapacityRequirements.requests resource/v1:DeviceRequestAllocationResult.consumedCapacity'
).split(' '));

// Patch metadata: shared/reference/kubectl-compat.md §5 (from client-go openapitest testdata), plus the
// +listType/+listMapKey markers of k8s.io/api core/v1/types.go, meta/v1/types.go where known.
// Key: "<pkgShort>/<version>:<Type>.<field>" -> extensions.
const m = (key, strategy, extra = {}) => ({ 'x-kubernetes-patch-merge-key': key, 'x-kubernetes-patch-strategy': strategy, ...extra });
const map = (...keys) => ({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys });
const PATCH = {};
const addPatch = (types, field, ext) => { for (const t of types.split(' ')) PATCH[`${t}.${field}`] = ext; };
addPatch('core/v1:PodSpec', 'containers', m('name', 'merge', map('name')));
addPatch('core/v1:PodSpec', 'initContainers', m('name', 'merge', map('name')));
addPatch('core/v1:PodSpec', 'ephemeralContainers', m('name', 'merge', map('name')));
addPatch('core/v1:PodSpec', 'imagePullSecrets', m('name', 'merge', map('name')));
addPatch('core/v1:PodSpec', 'volumes', m('name', 'merge,retainKeys', map('name')));
addPatch('core/v1:PodSpec', 'resourceClaims', m('name', 'merge,retainKeys', map('name')));
addPatch('core/v1:PodSpec', 'schedulingGates', m('name', 'merge', map('name')));
addPatch('core/v1:PodSpec', 'hostAliases', m('ip', 'merge', map('ip')));
addPatch('core/v1:PodSpec', 'topologySpreadConstraints', m('topologyKey', 'merge', map('topologyKey', 'whenUnsatisfiable')));
addPatch('core/v1:Container core/v1:EphemeralContainer', 'env', m('name', 'merge', map('name')));
addPatch('core/v1:Container core/v1:EphemeralContainer', 'ports', m('containerPort', 'merge', map('containerPort', 'protocol')));
addPatch('core/v1:Container core/v1:EphemeralContainer', 'volumeMounts', m('mountPath', 'merge', map('mountPath')));
addPatch('core/v1:Container core/v1:EphemeralContainer', 'volumeDevices', m('devicePath', 'merge', map('devicePath')));
addPatch('core/v1:PodStatus', 'podIPs', m('ip', 'merge', map('ip')));
addPatch('core/v1:NodeStatus', 'addresses', m('type', 'merge', map('type')));
addPatch('core/v1:NodeSpec', 'podCIDRs', { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' });
addPatch('core/v1:ServiceSpec', 'ports', m('port', 'merge', map('port', 'protocol')));
addPatch('core/v1:ServiceAccount', 'secrets', m('name', 'merge'));
addPatch('core/v1:PodStatus core/v1:NodeStatus core/v1:ServiceStatus core/v1:NamespaceStatus core/v1:PersistentVolumeClaimStatus ' +
  'core/v1:ReplicationControllerStatus core/v1:ComponentStatus apps/v1:DeploymentStatus apps/v1:ReplicaSetStatus ' +
  'apps/v1:StatefulSetStatus apps/v1:DaemonSetStatus batch/v1:JobStatus', 'conditions', m('type', 'merge', map('type')));
addPatch('meta/v1:ObjectMeta', 'finalizers', { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' });
addPatch('meta/v1:ObjectMeta', 'ownerReferences', m('uid', 'merge', map('uid')));
addPatch('apps/v1:DeploymentSpec', 'strategy', { 'x-kubernetes-patch-strategy': 'retainKeys' });
addPatch('meta/v1:Status', 'details', {});

// ---------------------------------------------------------------------------
// 1. Load the models listed in ObjectSerializer's typeMap (the fresh set; stale files are ignored).
const serializerSrc = fs.readFileSync(path.join(modelsDir, 'ObjectSerializer.js'), 'utf8');
const typeMapSrc = serializerSrc.slice(serializerSrc.indexOf('let typeMap = {'));
const freshNames = new Set([...typeMapSrc.slice(0, typeMapSrc.indexOf('};')).matchAll(/"(\w+)":/g)].map((x) => x[1]));

const models = new Map(); // client name -> { attrs, desc, fieldDesc, required }
for (const name of freshNames) {
  const js = path.join(modelsDir, name + '.js');
  if (!fs.existsSync(js)) continue;
  const mod = await import(pathToFileURL(js).href);
  const cls = mod[name];
  const dts = fs.readFileSync(path.join(modelsDir, name + '.d.ts'), 'utf8');
  models.set(name, { attrs: cls.attributeTypeMap, ...parseDts(dts) });
}

function cleanComment(lines) {
  return lines.map((l) => l.replace(/^\s*\*\s?/, '')).join('\n').trim()
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/\\"/g, '"');
}
function parseDts(src) {
  const lines = src.split('\n');
  let pending = null, buf = null, desc = '', inClass = false;
  const fieldDesc = {}, optional = {};
  for (const raw of lines) {
    const l = raw.trim();
    if (l.startsWith('/**')) { buf = []; continue; }
    if (buf && l === '*/') { pending = cleanComment(buf); buf = null; continue; }
    if (buf) { buf.push(l); continue; }
    if (l.startsWith('export declare class')) { desc = pending ?? ''; pending = null; inClass = true; continue; }
    const f = inClass && /^'(\w+)'(\?)?:/.exec(l);
    if (f) { if (pending) fieldDesc[f[1]] = pending; optional[f[1]] = !!f[2]; pending = null; }
  }
  return { desc, fieldDesc, optional };
}

// ---------------------------------------------------------------------------
// 2. Names: client name -> { short, version, group }.
const NAME_RE = /^(Core|Events|Discovery|Storage|Authentication|Rbac|Flowcontrol|Admissionregistration|Apiextensions|Apiregistration|Resource)?(V\d+(?:alpha\d+|beta\d+)?)(\w+)$/;
function splitName(n) {
  const x = NAME_RE.exec(n);
  if (!x) return null;
  return { prefixGroup: x[1] ? PREFIX_GROUPS[x[1]] : null, version: x[2].toLowerCase(), short: x[3] };
}
const stable = (v) => /^v\d+$/.test(v);
const groupOf = new Map();  // client name -> group
const kindGV = new Map();    // client name -> {group, version} for types served at some REST path

for (const n of models.keys()) {
  const s = splitName(n);
  if (!s) continue;
  if (META_TYPES.has(s.short) && s.version === 'v1' && !s.prefixGroup) groupOf.set(n, 'meta');
  else if (s.prefixGroup) groupOf.set(n, s.prefixGroup);
  const o = GROUP_OVERRIDES[`${s.short}@${s.version}`];
  if (o && !s.prefixGroup) groupOf.set(n, fullGroup(o));
}

// Top-level kinds: types mentioned in the API class of one group-version.
const apiTypes = new Map(); // group -> Set(client names)
for (const f of fs.readdirSync(apisDir).filter((f) => /V\d+\w*Api\.js$/.test(f))) {
  const src = fs.readFileSync(path.join(apisDir, f), 'utf8');
  const p = /localVarPath = '\/(api|apis\/([^/]+))\/(v\w+)\//.exec(src);
  if (!p) continue;
  const group = p[1] === 'api' ? 'core' : p[2];
  const version = p[3];
  if (!stable(version)) continue;
  const set = apiTypes.get(group) ?? new Set();
  for (const t of src.matchAll(/"((?:[A-Z][a-z]+)?V\d\w*)", ""\)/g)) if (models.has(t[1])) set.add(t[1]);
  apiTypes.set(group, set);
}
// A type that is an object with apiVersion/kind and mentioned by exactly one group's API belongs to it.
const mentions = new Map();
for (const [g, set] of apiTypes) for (const t of set) mentions.set(t, [...(mentions.get(t) ?? []), g]);
for (const [t, gs] of mentions) {
  const attrs = models.get(t).attrs.map((a) => a.baseName);
  const isKind = attrs.includes('apiVersion') && attrs.includes('kind');
  if (!groupOf.has(t) && gs.length === 1) groupOf.set(t, gs[0]);
  if (isKind && groupOf.get(t) !== 'meta') kindGV.set(t, { group: groupOf.get(t), version: splitName(t).version });
}

// Propagate groups down the reference graph: meta and core first, so that shared types keep their owner.
const refsOf = (n) => models.get(n).attrs.flatMap((a) => [...a.type.matchAll(/\b((?:[A-Z][a-z]+)?V\d\w*)\b/g)].map((x) => x[1])).filter((x) => models.has(x));
const order = ['meta', 'core', ...[...apiTypes.keys()].filter((g) => g !== 'core').sort()];
for (const g of order) {
  const queue = [...groupOf].filter(([, gg]) => gg === g).map(([n]) => n);
  while (queue.length) {
    const n = queue.shift();
    for (const r of refsOf(n)) {
      if (groupOf.has(r)) continue;
      if (splitName(r).version !== splitName(n).version) continue;
      groupOf.set(r, g);
      queue.push(r);
    }
  }
}

const defName = (n) => {
  const s = splitName(n);
  if (n === 'VersionInfo') return 'io.k8s.apimachinery.pkg.version.Info';
  if (s.short === 'MicroTime' || s.short === 'Time') return `${META}.${s.short}`;
  return `${pkgOf(groupOf.get(n), s.version)}.${s.short}`;
};
const shortKey = (n) => { const s = splitName(n); if (!s) return n; return `${groupOf.get(n) === 'core' ? 'core' : groupOf.get(n).split('.')[0]}/${s.version}:${s.short}`; };

// ---------------------------------------------------------------------------
// 3. Emit schemas.
const schemas = {};
const unresolved = new Set();
function typeSchema(t, format, owner, field) {
  let x;
  if ((x = /^Array<(.+)>$/.exec(t))) return { type: 'array', items: typeSchema(x[1], format, owner, field) };
  if ((x = /^\{ \[key: string\]: (.+); \}$/.exec(t))) return { type: 'object', additionalProperties: typeSchema(x[1], format, owner, field) };
  switch (t) {
    case 'string':
      if (QUANTITY_FIELDS.has(`${shortKey(owner)}.${field}`)) return { $ref: REF(QUANTITY) };
      return format ? { type: 'string', format } : { type: 'string' };
    case 'number': return format === 'double' ? { type: 'number', format } : { type: 'integer', format: format || 'int64' };
    case 'boolean': return { type: 'boolean' };
    case 'Date': return { $ref: REF(`${META}.Time`) };
    case 'IntOrString': return { $ref: REF(INT_OR_STRING) };
    case 'any': return null; // decided by the caller (RawExtension or JSON)
    case 'V1MicroTime': return { $ref: REF(`${META}.MicroTime`) };
  }
  if (models.has(t)) {
    if (!groupOf.has(t)) unresolved.add(t);
    return { $ref: REF(defName(t)) };
  }
  throw new Error(`unknown type ${t} in ${owner}.${field}`);
}
// `any` fields: apiextensions JSON values and runtime.RawExtension; FieldsV1 and WatchEvent.object are their own types.
function anySchema(owner, field) {
  const short = splitName(owner).short;
  if (short === 'JSONSchemaProps') {
    const js = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.';
    if (field === 'items') return { $ref: REF(js + 'JSONSchemaPropsOrArray') };
    if (field === 'additionalItems' || field === 'additionalProperties') return { $ref: REF(js + 'JSONSchemaPropsOrBool') };
    if (field === 'dependencies') return { $ref: REF(js + 'JSONSchemaPropsOrStringArray') };
    return { $ref: REF(js + 'JSON') };
  }
  if (short === 'ManagedFieldsEntry') return { $ref: REF(`${META}.FieldsV1`) };
  if (short === 'CustomResourceSubresources') return { $ref: REF('io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresourceStatus') };
  return { $ref: REF(RAW_EXTENSION) };
}

const included = [...models.keys()].filter((n) => n === 'VersionInfo' || (splitName(n) && stable(splitName(n).version) && groupOf.has(n)));
for (const n of included) {
  const mdl = models.get(n);
  const s = { description: mdl.desc || undefined, type: 'object', properties: {} };
  const required = [];
  const byName = Object.fromEntries(mdl.attrs.map((a) => [a.name, a]));
  for (const a of mdl.attrs) {
    let p = a.type === 'any' ? anySchema(n, a.baseName) : a.type === 'Array<any>' ? { type: 'array', items: anySchema(n, a.baseName) } :
      a.type === '{ [key: string]: any; }' ? { type: 'object', additionalProperties: anySchema(n, a.baseName) } : typeSchema(a.type, a.format, n, a.baseName);
    const d = mdl.fieldDesc[a.name];
    if (p.$ref && d) p = { allOf: [p] }; // OpenAPI 3.0 ignores siblings of $ref; upstream wraps in allOf
    if (d) p.description = d;
    Object.assign(p, PATCH[`${shortKey(n)}.${a.baseName}`] ?? {});
    s.properties[a.baseName] = p;
    if (mdl.optional[a.name] === false) required.push(a.baseName);
  }
  void byName;
  if (required.length) s.required = required;
  if (kindGV.has(n)) {
    const { group, version } = kindGV.get(n);
    s['x-kubernetes-group-version-kind'] = [{ group: group === 'core' ? '' : group, kind: splitName(n).short, version }];
  }
  schemas[defName(n)] = s;
}
// meta/v1 Status is served by every group; upstream marks it with the core GVK.
schemas[`${META}.Status`]['x-kubernetes-group-version-kind'] = [{ group: '', kind: 'Status', version: 'v1' }];

// Hand-written leaf types that client-node flattens away (descriptions abridged from upstream).
const leaf = {
  [INT_OR_STRING]: { description: 'IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.', type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true },
  [QUANTITY]: { description: 'Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the "" case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>            ::= "+" | "-" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | "" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn\'t choose the capitalization.)\n\n<decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber> ```', type: 'string', format: 'quantity', 'x-kubernetes-int-or-string': true },
  [`${META}.Time`]: { description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.  Wrappers are provided for many of the factory methods that the time package offers.', type: 'string', format: 'date-time' },
  [`${META}.MicroTime`]: { description: 'MicroTime is version of Time with microsecond level precision.', type: 'string', format: 'date-time' },
  [`${META}.FieldsV1`]: { description: "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.\n\nEach key is either a '.' representing the field itself, and will always map to an empty set, or a string representing a sub-field or item. The string will follow one of these four formats: 'f:<name>', where <name> is the name of a field in a struct, or key in a map 'v:<value>', where <value> is the exact json formatted value of a list item 'i:<index>', where <index> is position of a item in a list 'k:<keys>', where <keys> is a map of  a list item's key fields to their unique values If a key maps to an empty Fields value, the field that key represents is part of the set.\n\nThe exact format is defined in sigs.k8s.io/structured-merge-diff", type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  // Request body of PATCH operations in upstream documents (not referenced by any type).
  [`${META}.Patch`]: { description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.', type: 'object' },
  [RAW_EXTENSION]: { description: 'RawExtension is used to hold extensions in external versions.', type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON': { description: 'JSON represents any valid JSON value. These types are supported: bool, int64, float64, string, []interface{}, map[string]interface{} and nil.', 'x-kubernetes-preserve-unknown-fields': true },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray': { description: 'JSONSchemaPropsOrArray represents a value that can either be a JSONSchemaProps or an array of JSONSchemaProps. Mainly here for serialization purposes.', 'x-kubernetes-preserve-unknown-fields': true },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool': { description: 'JSONSchemaPropsOrBool represents JSONSchemaProps or a boolean value. Defaults to true for the boolean property.', 'x-kubernetes-preserve-unknown-fields': true },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray': { description: 'JSONSchemaPropsOrStringArray represents a JSONSchemaProps or a string array.', 'x-kubernetes-preserve-unknown-fields': true },
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresourceStatus': { description: 'CustomResourceSubresourceStatus defines how to serve the status subresource for CustomResources. Status is represented by the `.status` JSON path inside of a CustomResource. When set, * exposes a /status subresource for the custom resource * PUT requests to the /status subresource take a custom resource object, and ignore changes to anything except the status stanza * PATCH requests to the /status subresource take a custom resource object, and ignore changes to anything except the status stanza', type: 'object' },
};
Object.assign(schemas, leaf);

// Sanity: every $ref resolves.
const missing = new Set();
JSON.stringify(schemas, (k, v) => { if (k === '$ref' && typeof v === 'string' && !schemas[v.slice(REF('').length)]) missing.add(v); return v; });
if (unresolved.size || missing.size) {
  console.error('unresolved client types:', [...unresolved].join(' '));
  console.error('dangling refs:', [...missing].join(' '));
  process.exit(1);
}

const sorted = Object.fromEntries(Object.keys(schemas).sort().map((k) => [k, schemas[k]]));
const json = JSON.stringify({ components: { schemas: sorted } });
fs.mkdirSync(path.dirname(outFile), { recursive: true });
const gz = zlib.gzipSync(Buffer.from(json), { level: 9 });
fs.writeFileSync(outFile, gz);
console.log(`${Object.keys(sorted).length} schemas, ${kindGV.size} kinds, json ${json.length} bytes, gz ${gz.length} bytes -> ${path.relative(repoRoot, outFile)}`);
if (process.env.DUMP_NAMES) fs.writeFileSync(process.env.DUMP_NAMES, Object.keys(sorted).join('\n') + '\n');
