export { canonicalJson, sha256Hex } from './canonical.js';
export {
  SNAPSHOT_FORMAT,
  snapshotHash,
  createSnapshot,
  checkSnapshot,
  writeSnapshotFile,
  readSnapshotFile,
  type SnapshotInput,
} from './snapshot.js';
