// Where a client says it has seen chunk `n` of the gated stream `id` (/stream?gate=1): an empty file
// beside PROBE_LOG. The probe app waits for it; the grader and the tests write it. probe_app.py
// builds the same name.
export const seenFile = (probeLog: string, id: string, n: number): string => `${probeLog}.seen-${id}-${n}`;
