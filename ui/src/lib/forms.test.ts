import { describe, expect, it } from 'vitest';
import { ApiFailure } from '$lib/platform/api';
import { problemFrom } from './forms';

describe('placing errors next to fields', () => {
  it('puts an error about a field the form has beside that field', () => {
    const problem = problemFrom(new ApiFailure({ code: 'invalid', message: 'Not a valid phone number.', field: 'phone' }), ['phone', 'full_name']);
    expect(problem).toEqual({ fields: { phone: 'Not a valid phone number.' }, general: null });
  });

  it('shows errors about other fields, or none, at the top of the form', () => {
    expect(problemFrom(new ApiFailure({ code: 'conflict', message: 'Already booked.', field: null }), ['time']).general).toBe('Already booked.');
    expect(problemFrom(new ApiFailure({ code: 'invalid', message: 'Bad key.', field: 'key' }), ['time']).general).toBe('Bad key.');
    expect(problemFrom(new Error('boom'), ['time']).general).toMatch(/try again/);
  });
});
