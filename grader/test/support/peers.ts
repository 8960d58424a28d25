/**
 * Real peers (memcached, gunicorn, waitress) that some tests hold the grader's fixtures against.
 * Where one is missing its tests are skipped with the reason, unless SERVERLAB_REAL_PEERS=required
 * (set by .ci/run, which installs them): there a missing peer fails the run, so CI cannot pass
 * without the comparison having been made.
 */
export function unlessRequired(missing: string | undefined): string | undefined {
  if (missing && process.env.SERVERLAB_REAL_PEERS === 'required') throw new Error(`${missing}, and SERVERLAB_REAL_PEERS=required: install it (.ci/run does, with apt-get)`);
  return missing;
}
