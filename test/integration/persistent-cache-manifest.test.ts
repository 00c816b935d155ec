/**
 * The persistent cache option as a user applies it: an overlay of config/default with the
 * component config/manager/persistent-cache, built by the control plane's kubectl and accepted by
 * the real kube-apiserver (server-side dry run): the git-cache volume is the claim, mounted where
 * --cache-dir points, one replica updated by Recreate, the pod still restricted-PSS clean.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { connectToControlPlane, type ControlPlaneClient } from '../envtest/control-plane.js';
import { makeTempDir } from '../helpers/git-cli.js';
import { SYSTEM_NAMESPACE } from '../helpers/operator-install.js';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    replicas?: number;
    strategy?: { type: string; rollingUpdate?: unknown };
    accessModes?: string[];
    template: {
      spec: {
        volumes: { name: string; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string } }[];
        containers: { args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
      };
    };
  };
}

describe('config/manager/persistent-cache', () => {
  let plane: ControlPlaneClient;
  let objects: Manifest[];

  beforeAll(async () => {
    plane = connectToControlPlane();
    const overlay = makeTempDir('persistent-cache-overlay-');
    const rel = (dir: string) => path.relative(overlay, path.resolve(dir));
    fs.writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${rel('config/default')}\ncomponents:\n  - ${rel('config/manager/persistent-cache')}\n`,
    );
    objects = parseAllDocuments(await plane.kubectl(['kustomize', overlay])).map((d) => d.toJS() as Manifest);
  });

  test('the git-cache volume is the claim, mounted at --cache-dir; one replica, updated by Recreate', () => {
    const claim = objects.find((o) => o.kind === 'PersistentVolumeClaim')!;
    expect(claim.metadata).toMatchObject({ name: 'gitops-rollback-git-cache', namespace: SYSTEM_NAMESPACE });
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);

    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    const volume = deployment.spec.template.spec.volumes.find((v) => v.name === 'git-cache')!;
    expect(volume).toEqual({ name: 'git-cache', persistentVolumeClaim: { claimName: 'gitops-rollback-git-cache' } });
    const container = deployment.spec.template.spec.containers[0];
    const mount = container.volumeMounts.find((m) => m.name === 'git-cache')!;
    expect(container.args).toContain(`--cache-dir=${mount.mountPath}`);
  });

  test('the API server accepts the claim and the Deployment (server-side dry run), and the pod stays restricted-PSS clean', async () => {
    // A namespace of its own, enforcing restricted as the operator's does: in the shared control
    // plane another test may have applied config/default, and a dry-run apply over that
    // Deployment would merge its rolling-update fields into the Recreate strategy.
    const namespace = `persistent-cache-${randomBytes(4).toString('hex')}`;
    await plane.kubectl(['apply', '--server-side', '-f', '-'], {
      input: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n`,
    });
    const claimAndDeployment = objects
      .filter((o) => o.kind === 'PersistentVolumeClaim' || o.kind === 'Deployment')
      .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
    await plane.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: claimAndDeployment.map((o) => JSON.stringify(o)).join('\n---\n') });
    const deployment = claimAndDeployment.find((o) => o.kind === 'Deployment')!;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'persistent-cache-psa', namespace }, spec: deployment.spec.template.spec };
    await plane.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
  });
});
