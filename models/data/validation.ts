import type { Example } from "../../lib/dataset.js";
import { hashString } from "./augment.js";

/**
 * The calibration split: 15% of the train families, chosen by hash. `npm run calibrate` judges them with
 * their families held out of the RAG-Pref stores, and dpo.jsonl leaves them out, so the calibration sees
 * neither retrieval nor a DPO adapter that has met these families.
 */
export const isValidation = (e: Example) => hashString("validation:" + (e.family ?? e.id)) % 100 < 15;

/** The validation examples, at most `perFamily` variants each. */
export function carveValidation(train: Example[], perFamily: number): Example[] {
    const taken = new Map<string, number>();
    return train.filter((e) => {
        if (!isValidation(e)) return false;
        const family = e.family ?? e.id;
        taken.set(family, (taken.get(family) ?? 0) + 1);
        return taken.get(family)! <= perFamily;
    });
}
