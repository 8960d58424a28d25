// Keeps only the end of what a server prints: a server that floods its output costs a bounded
// amount of memory, and the last lines are the ones that explain a crash.
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;

  constructor(private readonly limit = 8192) {}

  push(data: Buffer): void {
    this.total += data.length;
    this.chunks.push(data);
    this.size += data.length;
    while (this.size - this.chunks[0]!.length >= this.limit) this.size -= this.chunks.shift()!.length;
  }

  text(maxLines = 30): string {
    const all = Buffer.concat(this.chunks);
    const lines = all.subarray(Math.max(0, all.length - this.limit)).toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    const dropped = this.total > this.limit || lines.length > maxLines;
    return (dropped ? '…\n' : '') + lines.slice(-maxLines).join('\n');
  }
}
