// The labels and annotations upstream's kubelet puts on sandboxes and containers
// (pkg/kubelet/types/labels.go, kuberuntime/labels.go): a new kubelet finds its pods'
// sandboxes and containers by them and adopts them instead of restarting them.

export const POD_NAME = 'io.kubernetes.pod.name';
export const POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const POD_UID = 'io.kubernetes.pod.uid';
export const CONTAINER_NAME = 'io.kubernetes.container.name';
export const CONTAINER_TYPE = 'io.kubernetes.container.type';
export const RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const TERMINATION_GRACE_PERIOD = 'io.kubernetes.pod.terminationGracePeriod';
export const PRESTOP_HANDLER = 'io.kubernetes.container.preStopHandler';
/** Skiff's: which node's kubelet owns a sandbox (several kubelets may share one containerd). */
export const SKIFF_NODE = 'skiff.dev/node';

export const CONFIG_SOURCE = 'kubernetes.io/config.source';
export const CONFIG_HASH = 'kubernetes.io/config.hash';
export const CONFIG_MIRROR = 'kubernetes.io/config.mirror';
export const CONFIG_SEEN = 'kubernetes.io/config.seen';
