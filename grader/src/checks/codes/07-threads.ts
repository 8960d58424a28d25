// Failure codes only 07-threads's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {};

export default { codes, hints };
