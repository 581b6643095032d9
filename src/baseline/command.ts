export async function runBaselineCommand(_o: { file?: string; update: boolean; stepMultiplier?: string }): Promise<void> {}
