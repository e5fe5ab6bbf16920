// Test setup shared by every Vitest file.
export {};
