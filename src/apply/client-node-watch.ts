// The Kubernetes client's Watch alone, for a dynamic import: importing the package itself dynamically would keep
// all of it in the bundle (a namespace import cannot be tree-shaken); a static re-export can.
export { Watch } from '@kubernetes/client-node';
