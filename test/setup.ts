/**
 * fast-check runs from a fixed seed, so a test run is reproducible and CI does not depend on luck;
 * set `FC_SEED` to explore other inputs (and `PROPERTY_RUNS` for more runs per property).
 */
import fc from 'fast-check'

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261127) })
