// Turning a refusal from the core into messages placed next to the fields that caused them.
import { ApiFailure } from '$lib/platform/api';

export type FieldErrors = Record<string, string>;

export interface FormProblem {
  /** Messages keyed by field name, shown beneath each input. */
  fields: FieldErrors;
  /** A message not about one field, shown at the top of the form. */
  general: string | null;
}

/** Splits an error into a field message (when the core named a field the form has) or a general one. */
export function problemFrom(error: unknown, formFields: readonly string[]): FormProblem {
  if (error instanceof ApiFailure) {
    if (error.field && formFields.includes(error.field)) {
      return { fields: { [error.field]: error.message }, general: null };
    }
    return { fields: {}, general: error.message };
  }
  return { fields: {}, general: 'Something went wrong. Please try again.' };
}

export const noProblem = (): FormProblem => ({ fields: {}, general: null });
