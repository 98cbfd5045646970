import { CLASS_NAMES, type ImageSet } from '../data/fashionMnist.js'
import { IGNORE, SCENE_SIDE, buildScenes, pixelCounts } from '../data/scenes.js'
import { IOU } from '../report/table.js'
import { trainSegmentationOnce } from '../train/segmentation.js'
import type { TaskPlan } from './taskPlan.js'

/**
 * The segmentation task (`lpl train --task segmentation`): `scenes` training scenes whose garment
 * classes follow the long tail `ρ^(−k/9)`, from every training image, and 1,000 test scenes with
 * every garment class equally likely, from the test images (as many scenes as test images when
 * `--test-limit` keeps fewer). The class counts are the labelled pixels of each class in the
 * training scenes, `n_c = |{pixels labelled c}|`, ignored pixels left out.
 */
export function segmentationPlan(trainSet: ImageSet, testSet: ImageSet, ratio: number, scenes: number): TaskPlan {
  const garments = CLASS_NAMES.length
  const longTail = Array.from({ length: garments }, (_, k) => ratio ** (-k / (garments - 1)))
  const all = (set: ImageSet) => Array.from({ length: set.count }, (_, i) => i)
  const train = buildScenes(trainSet, all(trainSet), scenes, longTail, 0)
  // 1,000 test scenes, or one per test image with --test-limit below that (the tests' tiny runs).
  const test = buildScenes(testSet, all(testSet), Math.min(1000, testSet.count), new Array<number>(garments).fill(1), 1)
  const counts = pixelCounts(train)
  const pixels = counts.reduce((a, b) => a + b, 0)
  const ignored = train.count * SCENE_SIDE * SCENE_SIDE - pixels
  return {
    description:
      `Fashion-MNIST ${SCENE_SIDE}×${SCENE_SIDE} scenes, garment rates in ratio ${ratio}: ${train.count} training scenes, ` +
      `labelled pixels per class ${counts.join('/')} (background first; ${ignored} ignored); ${test.count} test scenes (garments equally likely).`,
    counts,
    classNames: ['background', ...CLASS_NAMES],
    trainingItems: train.count,
    numSamples: pixels,
    metric: IOU,
    optimizer: 'Adam (β₁ 0.9, β₂ 0.999)',
    protocol: {
      scenes: train.count,
      testScenes: test.count,
      sceneSide: SCENE_SIDE,
      ignoreIndex: IGNORE,
      ignoredPixels: ignored,
      network: 'fully convolutional: conv3×3 16, pool, conv3×3 32 ×2, pool, conv3×3 32, ×4 upsampling, skip, conv1×1 32, conv1×1 11',
    },
    train: (method, options) => trainSegmentationOnce(method, { train, test, counts, numSamples: pixels }, options),
  }
}
