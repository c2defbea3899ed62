import { GatewayError } from '../errors.js';

/** One problem in a driver list, where the installer can find it. */
export interface DriverListProblem {
  /**
   * Physical line in the CSV file (1 = the header) where the offending record
   * starts; for a list that did not come from a file (the cloud's JSON
   * `replace-drivers`), the 1-based position in that list.
   */
  readonly line: number;
  readonly message: string;
}

/**
 * A driver list that cannot be imported: not UTF-8, bad CSV, a rule of
 * docs/drivers.md "The file" broken, or (merge mode) a badge that would move away
 * from a driver the import leaves alone. Carries every problem found, so the
 * file is fixed in one round; nothing was written. CLI exit code 2.
 */
export class DriverImportError extends GatewayError {
  readonly problems: readonly DriverListProblem[];
  /** Warnings found in the same pass; reported alongside, never a reason to refuse. */
  readonly warnings: readonly DriverListProblem[];

  constructor(problems: readonly DriverListProblem[], warnings: readonly DriverListProblem[] = []) {
    super('PE_ERR_DRIVER_CSV', `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} in the driver list, nothing imported`);
    this.problems = problems;
    this.warnings = warnings;
  }
}
