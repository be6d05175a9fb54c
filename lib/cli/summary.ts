/**
 * Per-task running totals for the summary `score` prints at the end. Sums only, so memory does
 * not grow with the input.
 */

export interface TaskTotals {
  count: number;
  reward: number;
  accuracy: number;
  format: number;
  /** Scored lines whose response gave no answer to compare (see `noAnswer`). */
  unparsed: number;
  /** Lines that could not be scored (bad JSON, unknown task, missing answer, …). */
  errors: number;
}

export class Summary {
  private readonly byTask = new Map<string, TaskTotals>();

  private totals(task: string): TaskTotals {
    let t = this.byTask.get(task);
    if (!t) {
      t = { count: 0, reward: 0, accuracy: 0, format: 0, unparsed: 0, errors: 0 };
      this.byTask.set(task, t);
    }
    return t;
  }

  addScored(task: string, reward: number, accuracy: number, format: number, unparsed: boolean): void {
    const t = this.totals(task);
    t.count++;
    t.reward += reward;
    t.accuracy += accuracy;
    t.format += format;
    if (unparsed) t.unparsed++;
  }

  addError(task: string | undefined): void {
    const t = this.totals(task ?? '(invalid)');
    t.count++;
    t.errors++;
  }

  /** The table as text. Means are over scored lines (errors excluded). */
  render(): string {
    const header = ['task', 'lines', 'reward', 'accuracy', 'format', 'no answer', 'errors'];
    const rows: string[][] = [header];
    const all: TaskTotals = { count: 0, reward: 0, accuracy: 0, format: 0, unparsed: 0, errors: 0 };
    const mean = (sum: number, n: number): string => (n > 0 ? (sum / n).toFixed(4) : '-');
    const row = (name: string, t: TaskTotals): string[] => {
      const scored = t.count - t.errors;
      return [name, String(t.count), mean(t.reward, scored), mean(t.accuracy, scored), mean(t.format, scored), String(t.unparsed), String(t.errors)];
    };
    const names = [...this.byTask.keys()].sort();
    for (const name of names) {
      const t = this.byTask.get(name)!;
      rows.push(row(name, t));
      all.count += t.count;
      all.reward += t.reward;
      all.accuracy += t.accuracy;
      all.format += t.format;
      all.unparsed += t.unparsed;
      all.errors += t.errors;
    }
    rows.push(row('all', all));
    const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
  }
}
