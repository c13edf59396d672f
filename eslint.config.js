// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/**', '**/data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // An exercise is a lesson's story with its point taken out: what the learner will need (the
    // transport to answer with, an import) may be there before the code that uses it.
    files: ['lessons/*/exercise-*.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    // Postman scripts run in Postman's sandbox, where `pm` is a global.
    files: ['postman/**/*.js'],
    languageOptions: { globals: { pm: 'readonly' } },
  },
);
