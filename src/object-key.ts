/**
 * The `namespace/name` key of a namespaced object, as controller-runtime's `client.ObjectKey`
 * prints it: what work queues carry and logs and messages name. A leaf module: it imports nothing.
 */

/** The parts of an object this needs (any Kubernetes object's metadata). */
export interface NamespacedObject {
  metadata: { namespace?: string; name?: string };
}

/** `namespace/name`. */
export function objectKey(object: NamespacedObject): string {
  return `${object.metadata.namespace}/${object.metadata.name}`;
}

/** The namespace and name of a `namespace/name` key (names cannot hold a slash). */
export function splitObjectKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
