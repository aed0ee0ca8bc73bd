"""SYNTHETIC SAMPLE DATA: medical-VQA-style trace pairs for demos and tests.

Nothing here comes from real patients, real images or a real model. Every
question and trace is assembled from the hand-written case templates below, so
that `judge-service demo` and the test suite have realistic-looking input
without shipping a data set. The image a question refers to does not exist: `image_urls`
is empty, or with `images=True` holds one SYNTHETIC placeholder (a 16x16 grey gradient,
`PLACEHOLDER_IMAGE`, not a scan), so that vision judges are sent an image and the
drop-images probe has one to remove; the text is written as if the real image were shown.

Each pair imitates a base model (baseline) and a fine-tuned model (candidate)
answering the same question. The candidate is right in about 83% of pairs and
the baseline in about 53%, drawn per pair from `random.Random(seed)`, so a
judge that checks final answers should prefer the candidate clearly but not
always. Wrong traces contain one plausible mistake: a misread image or a wrong
fact, ending with a distractor. Both models draw from the same length
distribution so that a length-biased judge cannot be mistaken for a good one.
"""

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BASELINE_ACCURACY",
    "CANDIDATE_ACCURACY",
    "CASES",
    "MODALITIES",
    "PLACEHOLDER_IMAGE",
    "SOURCE",
    "Case",
    "Distractor",
    "sample_pairs",
    "write_jsonl",
]

SOURCE = "synthetic-sample"
MODALITIES: tuple[str, ...] = (
    "CT",
    "MRI",
    "X-ray",
    "ultrasound",
    "pathology",
    "dermoscopy",
    "fundus",
)
CANDIDATE_ACCURACY = 0.83
# SYNTHETIC: a 16x16 grey gradient PNG standing in for the scan a question describes.
PLACEHOLDER_IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAAAAAA6mKC9AAAAU0lEQVR42l"
    "3HEQKAAADAwD0niqIoiqIoiqIoiqIoiqIoiqIoiqIoinpMvrMjCKM4SbO8KKu6absefUAf0Sf0GX1BX9"
    "E39B39QD/RL/Qb/UF/0b8fHZSCAexbrIUAAAAASUVORK5CYII="
)
BASELINE_ACCURACY = 0.53


@dataclass(frozen=True)
class Distractor:
    """A plausible wrong answer and the two ways a trace can talk itself into it.

    `fact` is true of the distractor (correct traces cite it to rule it out;
    misread traces cite it after seeing its features); `misread` is what the
    image would have to show for it; `wrong_fact` wrongly attributes the real
    findings to it.
    """

    name: str
    fact: str
    misread: str
    wrong_fact: str


@dataclass(frozen=True)
class Case:
    """One clinical image scenario; questions vary it by age, sex and presentation.

    `findings` and `misread` are noun phrases, `feature` one that reads after
    "the"; `facts`, `fact` and `wrong_fact` are clauses without a full stop.
    """

    key: str
    modality: str
    body_region: str
    topic: str
    images: tuple[str, ...]
    presentations: tuple[str, ...]
    ages: tuple[int, int]
    findings: tuple[str, ...]
    facts: tuple[str, ...]
    feature: str
    answer: str
    distractors: tuple[Distractor, ...]
    sexes: tuple[str, ...] = ("man", "woman")


D = Distractor
_CHEST_XRAY = ("A frontal chest radiograph", "A posteroanterior chest X-ray")
_DERMOSCOPY = ("A dermoscopic image of the lesion", "A dermoscopy photograph of the lesion")

CASES: tuple[Case, ...] = (
    # ---------------------------------------------------------------- X-ray
    Case(
        key="pneumothorax",
        modality="X-ray",
        body_region="chest",
        topic="pulmonology",
        images=_CHEST_XRAY,
        presentations=(
            "with sudden right-sided pleuritic chest pain and breathlessness",
            "with acute shortness of breath that began at rest",
            "with sharp right chest pain after a bout of coughing",
        ),
        ages=(19, 72),
        findings=(
            "a thin white visceral pleural line at the right apex with no lung markings beyond it",
            "a hyperlucent right upper zone",
            "a midline trachea and mediastinum",
        ),
        facts=(
            "a pneumothorax is air in the pleural space separating the visceral pleura "
            "from the chest wall",
            "tall young smokers are prone to primary spontaneous pneumothorax from ruptured "
            "apical blebs",
            "absent lung markings beyond a visible pleural edge is the defining radiographic "
            "sign of a pneumothorax",
        ),
        feature="visible visceral pleural edge with absent lung markings beyond it",
        answer="pneumothorax",
        distractors=(
            D(
                "bullous emphysema",
                fact="a giant bulla has a concave inner wall with lung markings displaced around "
                "it rather than a straight pleural line parallel to the chest wall",
                misread="a large thin-walled apical bulla whose inner margin curves towards the "
                "chest wall",
                wrong_fact="a sharp pleural line with no lung markings beyond it is the typical "
                "sign of a giant bulla",
            ),
            D(
                "skin fold artefact",
                fact="a skin fold usually extends beyond the rib cage and has lung markings on "
                "both sides of it",
                misread="a line at the apex that continues beyond the rib cage into the soft "
                "tissues",
                wrong_fact="an apical line with no lung markings beyond it is most often a skin "
                "fold on frontal films",
            ),
        ),
    ),
    Case(
        key="lobar-pneumonia",
        modality="X-ray",
        body_region="chest",
        topic="infectious disease",
        images=_CHEST_XRAY,
        presentations=(
            "with three days of fever, rigors and a cough productive of rusty sputum",
            "with fever, pleuritic chest pain and a raised white cell count",
            "with a productive cough and crackles over the right upper chest",
        ),
        ages=(24, 85),
        findings=(
            "a homogeneous airspace opacity in the right upper zone whose lower border is the "
            "horizontal fissure",
            "air bronchograms running through the opacity",
            "a horizontal fissure in its normal position without volume loss",
        ),
        facts=(
            "lobar pneumonia fills the alveoli of one lobe with exudate, so the lobe turns "
            "opaque while its bronchi stay air-filled",
            "Streptococcus pneumoniae is the commonest cause of community-acquired lobar pneumonia",
            "a consolidated lobe keeps its normal volume, unlike a collapsed one",
        ),
        feature="lobar consolidation with air bronchograms and preserved volume",
        answer="lobar pneumonia",
        distractors=(
            D(
                "right upper lobe collapse",
                fact="lobar collapse causes volume loss, with the fissure and the trachea pulled "
                "towards the opaque lobe",
                misread="an elevated horizontal fissure with the trachea pulled to the right",
                wrong_fact="an upper-zone opacity bounded by the horizontal fissure with air "
                "bronchograms is the typical sign of lobar collapse",
            ),
            D(
                "pulmonary oedema",
                fact="cardiogenic pulmonary oedema is usually bilateral and perihilar, with "
                "cardiomegaly and septal lines",
                misread="bilateral perihilar haziness with septal lines at both bases",
                wrong_fact="a dense opacity with air bronchograms confined to one upper lobe is a "
                "common early pattern of cardiogenic pulmonary oedema",
            ),
        ),
    ),
    Case(
        key="colles-fracture",
        modality="X-ray",
        body_region="wrist",
        topic="orthopaedics",
        images=(
            "Posteroanterior and lateral radiographs of the left wrist",
            "Left wrist X-rays in two projections",
        ),
        presentations=(
            "after a fall onto an outstretched hand on an icy pavement",
            "with wrist pain and a visible deformity after tripping at home",
            "with a painful swollen wrist after falling from standing height",
        ),
        ages=(55, 88),
        findings=(
            "a transverse fracture through the distal radial metaphysis about 2 cm from the joint",
            "dorsal angulation and dorsal displacement of the distal fragment on the lateral view",
            "an associated fracture of the ulnar styloid",
        ),
        facts=(
            "a Colles fracture is a distal radius fracture with dorsal displacement of the "
            "distal fragment, producing a dinner-fork deformity",
            "it typically follows a fall onto an outstretched hand in older adults with "
            "osteoporotic bone",
            "the ulnar styloid is often avulsed at the same time",
        ),
        feature="distal radial metaphyseal fracture with dorsal displacement",
        answer="Colles fracture",
        distractors=(
            D(
                "Smith fracture",
                fact="a Smith fracture is a distal radius fracture with volar displacement of the "
                "distal fragment, typically after a fall onto a flexed wrist",
                misread="volar displacement of the distal radial fragment on the lateral view",
                wrong_fact="dorsal displacement of the distal radial fragment is what defines a "
                "Smith fracture",
            ),
            D(
                "scaphoid fracture",
                fact="scaphoid fractures are typical of young adults and show a lucent line "
                "across the waist of the scaphoid",
                misread="a lucent line across the waist of the scaphoid",
                wrong_fact="after a fall onto an outstretched hand, a fracture line on the radial "
                "side of the wrist is most often in the scaphoid",
            ),
        ),
    ),
    Case(
        key="small-bowel-obstruction",
        modality="X-ray",
        body_region="abdomen",
        topic="general surgery",
        images=("An erect abdominal radiograph", "A supine abdominal X-ray"),
        presentations=(
            "with colicky abdominal pain, vomiting and distension years after an appendicectomy",
            "with absolute constipation, vomiting and a distended abdomen after bowel surgery",
            "with worsening colicky central abdominal pain and vomiting since yesterday",
        ),
        ages=(35, 85),
        findings=(
            "multiple dilated central bowel loops over 3 cm in diameter",
            "valvulae conniventes crossing the full width of the dilated loops",
            "little gas in the colon and rectum",
        ),
        facts=(
            "the small bowel is considered dilated when it is wider than 3 cm",
            "valvulae conniventes cross the full width of the small bowel, whereas colonic "
            "haustra do not",
            "adhesions from previous surgery are the commonest cause of small bowel obstruction",
        ),
        feature="dilated small bowel loops with a collapsed colon",
        answer="small bowel obstruction",
        distractors=(
            D(
                "paralytic ileus",
                fact="paralytic ileus dilates small and large bowel together without a "
                "transition point",
                misread="gas distributed through both small and large bowel down to the rectum",
                wrong_fact="dilated small bowel loops with little colonic gas is the typical "
                "pattern of paralytic ileus",
            ),
            D(
                "sigmoid volvulus",
                fact="sigmoid volvulus produces a massively dilated inverted U-shaped loop of "
                "large bowel arising from the pelvis",
                misread="a large inverted U-shaped loop rising out of the pelvis",
                wrong_fact="valvulae conniventes are the mucosal folds of the large bowel, so "
                "these dilated loops are colonic",
            ),
        ),
    ),
    Case(
        key="cardiogenic-oedema",
        modality="X-ray",
        body_region="chest",
        topic="cardiology",
        images=_CHEST_XRAY,
        presentations=(
            "with breathlessness on lying flat and swollen ankles",
            "with worsening exertional breathlessness two months after a myocardial infarction",
            "with waking at night gasping for breath and recent weight gain",
        ),
        ages=(55, 90),
        findings=(
            "an enlarged cardiac silhouette with a cardiothoracic ratio above 0.5",
            "upper lobe venous diversion and Kerley B lines at the bases",
            "small bilateral pleural effusions blunting the costophrenic angles",
        ),
        facts=(
            "raised left atrial pressure diverts blood to the upper lobes and then pushes "
            "fluid into the interstitium",
            "Kerley B lines are interlobular septa thickened by fluid",
            "orthopnoea and ankle swelling are classic symptoms of congestive heart failure",
        ),
        feature="combination of cardiomegaly, upper lobe diversion, septal lines and effusions",
        answer="cardiogenic pulmonary oedema",
        distractors=(
            D(
                "bilateral pneumonia",
                fact="bilateral pneumonia gives patchy consolidation with fever and does not "
                "explain cardiomegaly or upper lobe diversion",
                misread="patchy nodular opacities with air bronchograms in both lungs",
                wrong_fact="Kerley B lines are a sign of bacterial infection spreading through "
                "the lymphatics",
            ),
            D(
                "pulmonary fibrosis",
                fact="pulmonary fibrosis causes coarse basal reticulation, honeycombing and "
                "small lungs",
                misread="coarse basal reticulation with honeycombing and reduced lung volumes",
                wrong_fact="septal lines at the bases with cardiomegaly are the classic picture "
                "of usual interstitial pneumonia",
            ),
        ),
    ),
    # ------------------------------------------------------------------- CT
    Case(
        key="appendicitis",
        modality="CT",
        body_region="abdomen",
        topic="general surgery",
        images=(
            "A contrast-enhanced CT of the abdomen and pelvis",
            "An axial contrast-enhanced abdominal CT",
        ),
        presentations=(
            "with periumbilical pain that has moved to the right iliac fossa, fever and anorexia",
            "with 24 hours of right lower quadrant pain and rebound tenderness",
            "with right iliac fossa pain, vomiting and a low-grade fever",
        ),
        ages=(18, 60),
        findings=(
            "a dilated blind-ending tubular structure of about 11 mm arising from the caecum",
            "stranding of the surrounding fat in the right iliac fossa",
            "a calcified appendicolith at the base of the appendix",
        ),
        facts=(
            "an appendix wider than 6 mm with surrounding inflammation is the CT definition of "
            "acute appendicitis",
            "obstruction of the lumen by an appendicolith is a common trigger of appendicitis",
            "pain migrating from the umbilicus to the right iliac fossa is the classic history",
        ),
        feature="dilated, inflamed appendix with an appendicolith",
        answer="acute appendicitis",
        distractors=(
            D(
                "mesenteric adenitis",
                fact="mesenteric adenitis shows enlarged right lower quadrant lymph nodes with a "
                "normal appendix",
                misread="a cluster of enlarged mesenteric lymph nodes beside a thin appendix",
                wrong_fact="an appendix up to 12 mm wide is within normal limits, so the fat "
                "stranding is best explained by inflamed mesenteric nodes",
            ),
            D(
                "terminal ileitis",
                fact="terminal ileitis, for example in Crohn disease, thickens the wall of the "
                "terminal ileum and leaves the appendix normal",
                misread="a thick-walled terminal ileum with a target appearance",
                wrong_fact="a dilated tubular structure near the caecum with fat stranding usually "
                "represents an inflamed terminal ileum",
            ),
        ),
    ),
    Case(
        key="subdural-haematoma",
        modality="CT",
        body_region="head",
        topic="neurosurgery",
        images=("A non-contrast CT of the head", "An unenhanced axial head CT"),
        presentations=(
            "with increasing confusion a few days after a fall while taking warfarin",
            "with headache and drowsiness after a fall, on long-term anticoagulation",
            "with fluctuating confusion after a minor head injury",
        ),
        ages=(66, 91),
        findings=(
            "a crescent-shaped hyperdense collection over the left cerebral convexity",
            "a collection that crosses the coronal suture but stops at the falx",
            "effacement of the left lateral ventricle with mild midline shift to the right",
        ),
        facts=(
            "acute subdural haematomas come from torn bridging veins and spread along the "
            "convexity in a crescent",
            "subdural blood is not limited by cranial sutures because it lies beneath the dura",
            "brain atrophy stretches the bridging veins, so older adults on anticoagulants bleed "
            "after even minor falls",
        ),
        feature="crescent-shaped hyperdense collection crossing the sutures",
        answer="acute subdural haematoma",
        distractors=(
            D(
                "extradural haematoma",
                fact="an extradural haematoma is biconvex and usually stops at the suture lines "
                "where the dura is attached",
                misread="a biconvex, lens-shaped hyperdense collection under the skull",
                wrong_fact="a hyperdense extra-axial collection that crosses suture lines is "
                "typical of an extradural haematoma",
            ),
            D(
                "subarachnoid haemorrhage",
                fact="subarachnoid haemorrhage outlines the sulci and basal cisterns rather than "
                "forming a collection",
                misread="hyperdense blood filling the basal cisterns and the sylvian fissures",
                wrong_fact="blood following the curve of the skull over the convexity is the "
                "typical pattern of subarachnoid haemorrhage",
            ),
        ),
    ),
    Case(
        key="pulmonary-embolism",
        modality="CT",
        body_region="chest",
        topic="emergency medicine",
        images=(
            "A CT pulmonary angiogram",
            "A contrast-enhanced chest CT in the pulmonary arterial phase",
        ),
        presentations=(
            "with sudden breathlessness and tachycardia five days after hip replacement surgery",
            "with pleuritic chest pain, haemoptysis and a swollen left calf",
            "with syncope and hypoxia after a long-haul flight",
        ),
        ages=(28, 82),
        findings=(
            "a large filling defect straddling the bifurcation of the main pulmonary artery",
            "further filling defects in the lobar arteries of both lower lobes",
            "a right ventricle larger than the left ventricle",
        ),
        facts=(
            "a pulmonary embolus appears as a sharply outlined filling defect in an opacified "
            "pulmonary artery",
            "a large central clot strains the right ventricle, which dilates",
            "recent surgery and immobility are major risk factors for venous thromboembolism",
        ),
        feature="intraluminal filling defects in the pulmonary arteries with right heart strain",
        answer="pulmonary embolism",
        distractors=(
            D(
                "aortic dissection",
                fact="aortic dissection shows an intimal flap separating a true and a false "
                "lumen in the aorta",
                misread="an intimal flap running along the ascending aorta",
                wrong_fact="a central filling defect with a dilated right ventricle is a "
                "recognised presentation of a type A aortic dissection",
            ),
            D(
                "contrast mixing artefact",
                fact="a mixing artefact is poorly marginated, disappears on delayed images and "
                "does not strain the right ventricle",
                misread="an ill-defined low-density area that fades on the delayed images",
                wrong_fact="sharply outlined central filling defects are usually caused by "
                "unopacified blood mixing with contrast",
            ),
        ),
    ),
    Case(
        key="ureteric-calculus",
        modality="CT",
        body_region="abdomen",
        topic="urology",
        images=(
            "A non-contrast CT of the kidneys, ureters and bladder",
            "An unenhanced CT KUB",
        ),
        presentations=(
            "with colicky left loin pain radiating to the groin and microscopic haematuria",
            "with sudden severe left flank pain, restlessness and vomiting",
            "with intermittent left-sided loin-to-groin pain since this morning",
        ),
        ages=(22, 70),
        findings=(
            "a 6 mm hyperdense focus in the left distal ureter just above the bladder",
            "dilatation of the left ureter and renal pelvis above the focus",
            "a thin soft-tissue rim around the calcification",
        ),
        facts=(
            "ureteric calculi are dense on non-contrast CT and dilate the collecting system "
            "above them",
            "a soft-tissue rim around a calcification is the oedematous ureteric wall and "
            "favours a stone",
            "stones lodge most often at the vesicoureteric junction, the narrowest point of "
            "the ureter",
        ),
        feature="dense focus inside the ureter with upstream hydronephrosis",
        answer="obstructing ureteric calculus",
        distractors=(
            D(
                "pelvic phlebolith",
                fact="a phlebolith is a calcified pelvic vein with a central lucency that lies "
                "outside the ureter and does not cause hydronephrosis",
                misread="a round calcification with a central lucency lying outside the course "
                "of the ureter",
                wrong_fact="a soft-tissue rim around a pelvic calcification is the typical sign "
                "of a phlebolith",
            ),
            D(
                "acute pyelonephritis",
                fact="acute pyelonephritis gives a swollen kidney with wedge-shaped abnormal "
                "areas and no obstructing stone",
                misread="wedge-shaped striated areas of reduced density in the left kidney",
                wrong_fact="hydronephrosis with perinephric fat stranding is diagnostic of acute "
                "pyelonephritis",
            ),
        ),
    ),
    Case(
        key="hepatocellular-carcinoma",
        modality="CT",
        body_region="liver",
        topic="hepatology",
        images=(
            "A multiphase contrast-enhanced CT of the liver",
            "Arterial and portal venous phase CT images of the liver",
        ),
        presentations=(
            "with hepatitis C cirrhosis and a rising alpha-fetoprotein",
            "with alcohol-related cirrhosis under surveillance and recent weight loss",
            "with cirrhosis and a new lesion seen on a screening ultrasound",
        ),
        ages=(48, 80),
        findings=(
            "a 4 cm liver lesion that enhances brightly in the arterial phase",
            "washout of the lesion below the surrounding liver in the portal venous phase",
            "a nodular, shrunken liver consistent with cirrhosis",
        ),
        facts=(
            "in a cirrhotic liver, arterial hyperenhancement followed by washout is diagnostic "
            "of hepatocellular carcinoma without biopsy",
            "cirrhosis from viral hepatitis or alcohol is the main risk factor for "
            "hepatocellular carcinoma",
            "alpha-fetoprotein is often raised in hepatocellular carcinoma",
        ),
        feature="arterial hyperenhancement with portal venous washout in a cirrhotic liver",
        answer="hepatocellular carcinoma",
        distractors=(
            D(
                "hepatic haemangioma",
                fact="a haemangioma shows peripheral nodular enhancement that fills in "
                "centripetally and stays bright on delayed phases",
                misread="peripheral nodular enhancement that fills in towards the centre",
                wrong_fact="washout in the portal venous phase is a characteristic feature of "
                "haemangioma",
            ),
            D(
                "focal nodular hyperplasia",
                fact="focal nodular hyperplasia occurs in non-cirrhotic livers, often has a "
                "central scar and does not wash out",
                misread="a central scar with spoke-wheel vessels",
                wrong_fact="arterial enhancement followed by washout in a cirrhotic liver is the "
                "typical pattern of focal nodular hyperplasia",
            ),
        ),
    ),
    # ------------------------------------------------------------------ MRI
    Case(
        key="multiple-sclerosis",
        modality="MRI",
        body_region="brain",
        topic="neurology",
        images=("An axial FLAIR MRI of the brain", "Sagittal and axial FLAIR brain MRI"),
        presentations=(
            "with blurred vision and pain on eye movement a year after an episode of leg numbness",
            "with tingling in both legs and a past episode of optic neuritis",
            "with double vision that resolved over weeks and new clumsiness of one hand",
        ),
        ages=(20, 45),
        findings=(
            "ovoid hyperintense lesions arranged perpendicular to the lateral ventricles",
            "lesions at the callososeptal interface and in the juxtacortical white matter",
            "one enhancing lesion after gadolinium alongside several non-enhancing ones",
        ),
        facts=(
            "multiple sclerosis is diagnosed by lesions disseminated in space and in time",
            "periventricular lesions perpendicular to the ventricles, called Dawson fingers, "
            "follow the medullary veins and are typical of multiple sclerosis",
            "enhancing and non-enhancing lesions together show lesions of different ages",
        ),
        feature="periventricular lesions perpendicular to the ventricles with lesions of "
        "different ages",
        answer="multiple sclerosis",
        distractors=(
            D(
                "small vessel ischaemic disease",
                fact="small vessel ischaemic disease causes deep white matter lesions in older "
                "people and spares the corpus callosum",
                misread="punctate deep white matter foci that spare the corpus callosum",
                wrong_fact="periventricular lesions oriented perpendicular to the ventricles are "
                "the typical pattern of hypertensive small vessel disease",
            ),
            D(
                "acute disseminated encephalomyelitis",
                fact="acute disseminated encephalomyelitis is a monophasic illness, often after "
                "an infection, with large lesions all of the same age",
                misread="large fluffy lesions that all enhance to the same degree",
                wrong_fact="a mix of enhancing and non-enhancing lesions indicates a single "
                "monophasic inflammatory episode",
            ),
        ),
    ),
    Case(
        key="acl-tear",
        modality="MRI",
        body_region="knee",
        topic="sports medicine",
        images=("A sagittal proton-density MRI of the knee", "Sagittal and coronal knee MRI"),
        presentations=(
            "after a twisting injury at football, with a pop and swelling within an hour",
            "with knee instability after landing awkwardly from a jump",
            "with a painful swollen knee after a skiing fall with rotation",
        ),
        ages=(18, 40),
        findings=(
            "discontinuous, wavy fibres of the anterior cruciate ligament with high signal in "
            "the mid-substance",
            "bone marrow oedema in the lateral femoral condyle and the posterolateral tibial "
            "plateau",
            "a large joint effusion",
        ),
        facts=(
            "an acute ACL tear shows fibre discontinuity and oedema along the expected course "
            "of the ligament",
            "kissing contusions of the lateral femoral condyle and posterolateral tibia result "
            "from the pivot-shift mechanism of ACL rupture",
            "a pop with rapid swelling after a pivoting injury suggests a haemarthrosis from a "
            "cruciate tear",
        ),
        feature="disrupted ligament fibres with a pivot-shift bone bruise pattern",
        answer="anterior cruciate ligament tear",
        distractors=(
            D(
                "medial meniscal tear",
                fact="a meniscal tear shows high signal within the meniscus that reaches an "
                "articular surface",
                misread="linear high signal reaching the inferior surface of the posterior horn "
                "of the medial meniscus",
                wrong_fact="bone bruising of the lateral femoral condyle and posterior tibia is "
                "the typical sign of a medial meniscal tear",
            ),
            D(
                "posterior cruciate ligament tear",
                fact="a posterior cruciate ligament tear thickens or disrupts the normally dark "
                "posterior ligament, usually after a dashboard injury",
                misread="a thickened, high-signal posterior cruciate ligament",
                wrong_fact="the lateral femoral and posterolateral tibial bruise pattern is the "
                "classic sign of posterior cruciate injury",
            ),
        ),
    ),
    Case(
        key="disc-herniation",
        modality="MRI",
        body_region="lumbar spine",
        topic="spine surgery",
        images=(
            "Sagittal and axial T2-weighted MRI of the lumbar spine",
            "A lumbar spine MRI",
        ),
        presentations=(
            "with low back pain shooting down the back of the left leg to the sole after lifting",
            "with left-sided sciatica and a reduced left ankle reflex",
            "with shooting pain into the left calf and a positive straight leg raise",
        ),
        ages=(25, 60),
        findings=(
            "a focal extrusion of disc material at L5-S1 protruding posterolaterally to the left",
            "compression of the traversing left S1 nerve root in the lateral recess",
            "reduced T2 signal of the L5-S1 disc from desiccation",
        ),
        facts=(
            "a posterolateral disc herniation at L5-S1 compresses the traversing S1 nerve root",
            "S1 radiculopathy causes pain to the sole, weak plantar flexion and a reduced ankle "
            "reflex",
            "disc desiccation shows as loss of the normal bright T2 signal of the nucleus pulposus",
        ),
        feature="focal posterolateral disc extrusion compressing the S1 root",
        answer="L5-S1 disc herniation",
        distractors=(
            D(
                "lumbar spinal stenosis",
                fact="degenerative spinal stenosis narrows the canal circumferentially and causes "
                "bilateral neurogenic claudication in older people",
                misread="circumferential narrowing of the canal from facet hypertrophy and a "
                "thick ligamentum flavum",
                wrong_fact="acute unilateral sciatica after lifting with a narrowed lateral recess "
                "is the typical presentation of degenerative canal stenosis",
            ),
            D(
                "vertebral metastasis",
                fact="a vertebral metastasis replaces the normal marrow signal of the vertebral "
                "body and may extend into the canal",
                misread="low T1 marrow signal replacing the L5 vertebral body",
                wrong_fact="loss of T2 disc signal with soft tissue in the canal is an early sign "
                "of metastatic infiltration",
            ),
        ),
    ),
    Case(
        key="glioblastoma",
        modality="MRI",
        body_region="brain",
        topic="neuro-oncology",
        images=(
            "A contrast-enhanced T1-weighted MRI of the brain",
            "Axial post-gadolinium T1 and FLAIR brain MRI",
        ),
        presentations=(
            "with three weeks of morning headaches and a change in personality",
            "with a first generalised seizure and progressive left-sided weakness",
            "with headaches, confusion and word-finding difficulty over a month",
        ),
        ages=(45, 78),
        findings=(
            "a large heterogeneous mass with thick, irregular rim enhancement and central necrosis",
            "extension of the enhancing tumour across the corpus callosum into the other "
            "hemisphere",
            "extensive surrounding FLAIR hyperintensity with mass effect",
        ),
        facts=(
            "glioblastoma is the commonest malignant primary brain tumour in older adults",
            "thick irregular rim enhancement around necrosis reflects the abnormal vessels of a "
            "high-grade glioma",
            "spread across the corpus callosum, the butterfly pattern, is characteristic of "
            "glioblastoma",
        ),
        feature="necrotic, irregularly enhancing mass crossing the corpus callosum",
        answer="glioblastoma",
        distractors=(
            D(
                "cerebral abscess",
                fact="a cerebral abscess has a thin smooth enhancing rim and a centre with "
                "restricted diffusion",
                misread="a thin, smooth enhancing rim around a centre that restricts diffusion",
                wrong_fact="a necrotic ring-enhancing lesion crossing the corpus callosum is the "
                "typical appearance of a pyogenic abscess",
            ),
            D(
                "brain metastasis",
                fact="brain metastases are usually multiple, sit at the grey-white matter "
                "junction and rarely cross the corpus callosum",
                misread="several small enhancing nodules at the grey-white matter junction",
                wrong_fact="a solitary necrotic mass crossing the midline is the commonest "
                "appearance of metastatic disease",
            ),
        ),
    ),
    Case(
        key="rotator-cuff-tear",
        modality="MRI",
        body_region="shoulder",
        topic="orthopaedics",
        images=(
            "A coronal fat-suppressed MRI of the right shoulder",
            "A right shoulder MRI",
        ),
        presentations=(
            "with months of shoulder pain and weakness lifting the arm overhead",
            "with a painful arc and night pain after a fall onto the shoulder",
            "with difficulty raising the arm and pain when lying on that side",
        ),
        ages=(50, 80),
        findings=(
            "a fluid-filled gap through the full thickness of the supraspinatus tendon near its "
            "insertion",
            "retraction of the torn tendon edge towards the glenoid",
            "fluid in the subacromial-subdeltoid bursa",
        ),
        facts=(
            "a full-thickness tear lets joint fluid pass through the tendon defect into the "
            "subacromial bursa",
            "supraspinatus tears become common after 50 as the tendon degenerates",
            "weakness of abduction with a painful arc points to a rotator cuff tear",
        ),
        feature="full-thickness fluid-filled defect in the supraspinatus tendon",
        answer="supraspinatus tendon tear",
        distractors=(
            D(
                "calcific tendinitis",
                fact="calcific tendinitis shows dark calcium deposits within an otherwise "
                "continuous tendon",
                misread="a dark, signal-void focus within the supraspinatus tendon",
                wrong_fact="bursal fluid communicating through the tendon is a typical finding in "
                "calcific tendinitis",
            ),
            D(
                "adhesive capsulitis",
                fact="adhesive capsulitis thickens the capsule and the rotator interval and "
                "restricts passive movement with an intact cuff",
                misread="a thickened coracohumeral ligament and scarring in the rotator interval",
                wrong_fact="a fluid-filled tendon gap with bursal fluid is the hallmark of "
                "adhesive capsulitis",
            ),
        ),
    ),
    # ----------------------------------------------------------- ultrasound
    Case(
        key="acute-cholecystitis",
        modality="ultrasound",
        body_region="abdomen",
        topic="general surgery",
        images=("A right upper quadrant ultrasound", "An abdominal ultrasound of the gallbladder"),
        presentations=(
            "with eight hours of constant right upper quadrant pain and fever after a fatty meal",
            "with right upper quadrant tenderness, vomiting and a raised white cell count",
            "with persistent right upper quadrant pain radiating to the right shoulder",
        ),
        ages=(30, 75),
        findings=(
            "a gallbladder wall thickened to about 5 mm",
            "a stone impacted in the gallbladder neck with posterior acoustic shadowing",
            "a thin rim of pericholecystic fluid",
        ),
        facts=(
            "acute cholecystitis usually follows a stone obstructing the cystic duct or "
            "gallbladder neck",
            "wall thickening, pericholecystic fluid and a positive sonographic Murphy sign "
            "support acute cholecystitis",
            "pain lasting more than six hours with fever separates cholecystitis from simple "
            "biliary colic",
        ),
        feature="impacted stone with a thickened gallbladder wall and pericholecystic fluid",
        answer="acute cholecystitis",
        distractors=(
            D(
                "uncomplicated cholelithiasis",
                fact="uncomplicated gallstones sit in a thin-walled gallbladder without "
                "pericholecystic fluid",
                misread="mobile gallstones in a thin-walled gallbladder without surrounding fluid",
                wrong_fact="wall thickening and pericholecystic fluid are expected whenever "
                "gallstones are present and do not indicate inflammation",
            ),
            D(
                "gallbladder carcinoma",
                fact="gallbladder carcinoma appears as an irregular mass or focal wall "
                "thickening that may invade the liver",
                misread="an irregular mass replacing the gallbladder wall and invading the liver",
                wrong_fact="diffuse wall thickening around an impacted stone is the classic "
                "sonographic sign of gallbladder carcinoma",
            ),
        ),
    ),
    Case(
        key="ectopic-pregnancy",
        modality="ultrasound",
        body_region="pelvis",
        topic="gynaecology",
        images=("A transvaginal ultrasound of the pelvis", "A transvaginal pelvic ultrasound"),
        presentations=(
            "with seven weeks of amenorrhoea, left iliac fossa pain and vaginal spotting",
            "with a positive pregnancy test, pelvic pain and shoulder-tip pain",
            "with lower abdominal pain and light bleeding six weeks after her last period",
        ),
        ages=(19, 42),
        sexes=("woman",),
        findings=(
            "an empty uterine cavity with a thin endometrium",
            "an echogenic ring-shaped adnexal mass separate from the left ovary",
            "echogenic free fluid in the pouch of Douglas",
        ),
        facts=(
            "with a positive pregnancy test, an empty uterus and an adnexal mass separate from "
            "the ovary indicate a tubal pregnancy",
            "echogenic free fluid suggests blood in the peritoneum from bleeding or rupture",
            "previous pelvic infection and tubal surgery raise the risk of ectopic pregnancy",
        ),
        feature="empty uterus with an adnexal ring separate from the ovary",
        answer="ectopic pregnancy",
        distractors=(
            D(
                "ruptured corpus luteum cyst",
                fact="a ruptured corpus luteum cyst lies within the ovary, moves with it and can "
                "cause free fluid",
                misread="a collapsed cyst with a crenulated wall lying within the left ovary",
                wrong_fact="an adnexal ring with free fluid in early pregnancy is most often a "
                "ruptured corpus luteum cyst even when the uterus is empty",
            ),
            D(
                "early intrauterine pregnancy",
                fact="an early intrauterine pregnancy shows a gestational sac with a yolk sac "
                "sitting eccentrically in the endometrium",
                misread="a small fluid-filled sac within the endometrium",
                wrong_fact="at seven weeks an intrauterine sac is often not yet visible "
                "transvaginally, so an empty uterus is expected in a normal pregnancy",
            ),
        ),
    ),
    Case(
        key="deep-vein-thrombosis",
        modality="ultrasound",
        body_region="lower limb",
        topic="vascular medicine",
        images=(
            "A compression ultrasound of the left leg veins",
            "A duplex ultrasound of the left groin and thigh",
        ),
        presentations=(
            "with a swollen, painful left calf after a long-haul flight",
            "with left leg swelling a week after knee surgery",
            "with a warm swollen left thigh while receiving chemotherapy",
        ),
        ages=(25, 85),
        findings=(
            "a non-compressible left common femoral vein containing echogenic material",
            "absent colour flow in the femoral vein",
            "loss of the normal respiratory variation of venous flow",
        ),
        facts=(
            "a vein that does not collapse under probe pressure is the key ultrasound sign of "
            "deep vein thrombosis",
            "the common femoral vein is part of the deep venous system",
            "immobility, surgery and cancer are major risk factors for venous thrombosis",
        ),
        feature="non-compressible femoral vein filled with echogenic thrombus",
        answer="deep vein thrombosis",
        distractors=(
            D(
                "ruptured Baker cyst",
                fact="a ruptured Baker cyst is a popliteal fluid collection between "
                "semimembranosus and medial gastrocnemius that leaks into the calf",
                misread="an anechoic collection in the popliteal fossa tracking into the calf",
                wrong_fact="a non-compressible femoral vein usually reflects external compression "
                "by a Baker cyst",
            ),
            D(
                "superficial thrombophlebitis",
                fact="superficial thrombophlebitis affects subcutaneous veins such as the great "
                "saphenous vein",
                misread="a thrombosed vessel running in the subcutaneous fat of the medial thigh",
                wrong_fact="the common femoral vein belongs to the superficial venous system",
            ),
        ),
    ),
    Case(
        key="papillary-thyroid-carcinoma",
        modality="ultrasound",
        body_region="neck",
        topic="endocrinology",
        images=("A thyroid ultrasound", "A transverse ultrasound of the thyroid"),
        presentations=(
            "with a painless lump in the front of the neck",
            "with a thyroid nodule found incidentally on a neck scan",
            "with a slowly enlarging neck lump and childhood neck irradiation",
        ),
        ages=(22, 70),
        findings=(
            "a solid, markedly hypoechoic nodule that is taller than wide",
            "multiple punctate echogenic foci without comet-tail artefact",
            "irregular, spiculated margins",
        ),
        facts=(
            "microcalcifications correspond to the psammoma bodies of papillary thyroid carcinoma",
            "a solid hypoechoic nodule that is taller than wide with irregular margins falls "
            "into the highest-suspicion category",
            "papillary carcinoma is the commonest thyroid malignancy, and neck irradiation "
            "increases the risk",
        ),
        feature="solid hypoechoic taller-than-wide nodule with microcalcifications",
        answer="papillary thyroid carcinoma",
        distractors=(
            D(
                "colloid nodule",
                fact="a benign colloid nodule is often spongiform or cystic with comet-tail "
                "artefacts from inspissated colloid",
                misread="bright echogenic foci with comet-tail artefacts inside a cystic nodule",
                wrong_fact="punctate echogenic foci in a thyroid nodule usually represent benign "
                "colloid",
            ),
            D(
                "follicular adenoma",
                fact="a follicular adenoma is usually an isoechoic, oval nodule with a smooth halo",
                misread="an isoechoic, wider-than-tall nodule with a thin smooth halo",
                wrong_fact="a taller-than-wide hypoechoic shape is typical of benign follicular "
                "adenomas",
            ),
        ),
    ),
    Case(
        key="abdominal-aortic-aneurysm",
        modality="ultrasound",
        body_region="abdomen",
        topic="vascular surgery",
        images=("An abdominal aortic ultrasound", "A transverse ultrasound of the abdominal aorta"),
        presentations=(
            "with a pulsatile abdominal mass found at a routine check",
            "with vague back pain and a long history of smoking",
            "with an abnormal result at abdominal aortic screening",
        ),
        ages=(65, 85),
        sexes=("man",),
        findings=(
            "an infrarenal abdominal aorta measuring 5.8 cm in anteroposterior diameter",
            "eccentric mural thrombus lining the aortic lumen",
            "normal aortic calibre above the renal arteries",
        ),
        facts=(
            "an abdominal aortic aneurysm is an infrarenal aortic diameter of 3 cm or more",
            "mural thrombus commonly lines large aneurysms",
            "older male smokers have the highest risk, and a diameter above 5.5 cm usually "
            "prompts repair",
        ),
        feature="focal infrarenal aortic dilatation to nearly 6 cm with mural thrombus",
        answer="abdominal aortic aneurysm",
        distractors=(
            D(
                "retroperitoneal lymphadenopathy",
                fact="retroperitoneal lymphadenopathy appears as lobulated soft-tissue masses "
                "around a normal-calibre aorta",
                misread="lobulated soft-tissue masses draped around the aorta",
                wrong_fact="a rounded retroperitoneal mass with layered echogenic material is "
                "most often a nodal mass",
            ),
            D(
                "aortic ectasia",
                fact="aortic ectasia is mild diffuse widening that stays below the 3 cm "
                "threshold for an aneurysm",
                misread="an aorta that is only slightly widened, under 3 cm",
                wrong_fact="an infrarenal diameter below 6 cm is classified as ectasia rather "
                "than aneurysm",
            ),
        ),
    ),
    # ------------------------------------------------------------ pathology
    Case(
        key="squamous-cell-carcinoma-lung",
        modality="pathology",
        body_region="lung",
        topic="thoracic oncology",
        images=(
            "An H&E-stained section of a bronchoscopic biopsy",
            "A haematoxylin and eosin stained biopsy of the central lung mass",
        ),
        presentations=(
            "with haemoptysis, a central hilar mass and a 40 pack-year smoking history",
            "with cough, weight loss, hypercalcaemia and a central lung mass",
            "with recurrent pneumonia behind an obstructing bronchial mass",
        ),
        ages=(55, 82),
        findings=(
            "nests of atypical polygonal cells with abundant eosinophilic cytoplasm",
            "keratin pearls within the tumour nests",
            "intercellular bridges between tumour cells at high power",
        ),
        facts=(
            "keratinisation and intercellular bridges define squamous differentiation",
            "squamous cell carcinoma of the lung is strongly linked to smoking and usually "
            "arises centrally",
            "hypercalcaemia from PTH-related peptide is a recognised paraneoplastic effect of "
            "squamous cell carcinoma",
        ),
        feature="keratin pearls and intercellular bridges in invasive nests",
        answer="squamous cell carcinoma",
        distractors=(
            D(
                "adenocarcinoma",
                fact="adenocarcinoma forms glands or produces mucin and usually arises "
                "peripherally",
                misread="tumour cells forming glands with central lumina containing mucin",
                wrong_fact="keratin pearls are a feature of mucin-producing glandular tumours",
            ),
            D(
                "small cell carcinoma",
                fact="small cell carcinoma consists of small cells with scant cytoplasm, nuclear "
                "moulding and no keratinisation",
                misread="small cells with scant cytoplasm, nuclear moulding and fine granular "
                "chromatin",
                wrong_fact="a central tumour in a heavy smoker with keratinising nests is typical "
                "of small cell carcinoma",
            ),
        ),
    ),
    Case(
        key="helicobacter-gastritis",
        modality="pathology",
        body_region="stomach",
        topic="gastroenterology",
        images=("An H&E-stained gastric antral biopsy", "A gastric antral biopsy stained with H&E"),
        presentations=(
            "with months of epigastric discomfort and bloating",
            "with dyspepsia and a family history of peptic ulcer disease",
            "with epigastric pain that is relieved by eating",
        ),
        ages=(25, 70),
        findings=(
            "a dense lymphoplasmacytic infiltrate in the lamina propria of the antrum",
            "neutrophils infiltrating the gastric pit epithelium",
            "small curved rod-shaped organisms in the surface mucus",
        ),
        facts=(
            "Helicobacter pylori is a curved gram-negative rod that lives in the mucus over the "
            "gastric epithelium",
            "it causes a chronic active gastritis, with neutrophils marking the active component",
            "antral-predominant gastritis is the typical distribution of Helicobacter infection",
        ),
        feature="chronic active antral gastritis with curved surface organisms",
        answer="Helicobacter pylori gastritis",
        distractors=(
            D(
                "autoimmune gastritis",
                fact="autoimmune gastritis targets the oxyntic mucosa of the body and fundus, "
                "destroys parietal cells and spares the antrum",
                misread="inflammation concentrated in the body mucosa with loss of parietal cells",
                wrong_fact="curved surface bacteria in an inflamed antrum are a typical feature "
                "of autoimmune gastritis",
            ),
            D(
                "gastric MALT lymphoma",
                fact="gastric MALT lymphoma shows sheets of small B cells forming "
                "lymphoepithelial lesions",
                misread="lymphoid cells invading and destroying glands to form lymphoepithelial "
                "lesions",
                wrong_fact="active neutrophilic inflammation with surface organisms is enough for "
                "a diagnosis of MALT lymphoma",
            ),
        ),
    ),
    Case(
        key="hodgkin-lymphoma",
        modality="pathology",
        body_region="lymph node",
        topic="haematology",
        images=(
            "An H&E-stained section of the excised cervical lymph node",
            "A lymph node excision biopsy stained with H&E",
        ),
        presentations=(
            "with painless enlarging neck lymph nodes and night sweats",
            "with a rubbery cervical node, fever and weight loss",
            "with cervical lymphadenopathy and itching",
        ),
        ages=(18, 35),
        findings=(
            "large binucleate cells with prominent eosinophilic nucleoli giving an owl-eye "
            "appearance",
            "a mixed background of small lymphocytes, eosinophils and plasma cells",
            "broad collagen bands dividing the node into nodules",
        ),
        facts=(
            "Reed-Sternberg cells, large binucleate cells with owl-eye nucleoli, are the "
            "hallmark of Hodgkin lymphoma",
            "the malignant cells are few and sit in a reactive inflammatory background",
            "nodular sclerosis, with collagen bands, is the commonest subtype in young adults",
        ),
        feature="Reed-Sternberg cells in a mixed inflammatory background with fibrous bands",
        answer="Hodgkin lymphoma",
        distractors=(
            D(
                "reactive lymphadenitis",
                fact="reactive lymphadenitis preserves nodal architecture with enlarged "
                "follicles and no Reed-Sternberg cells",
                misread="enlarged follicles with preserved architecture and scattered immunoblasts",
                wrong_fact="a mixed inflammatory background in a node rules out lymphoma and "
                "indicates a reactive process",
            ),
            D(
                "diffuse large B-cell lymphoma",
                fact="diffuse large B-cell lymphoma shows sheets of large atypical B cells "
                "without a mixed inflammatory background",
                misread="diffuse sheets of large atypical lymphoid cells effacing the node",
                wrong_fact="large binucleate cells with prominent nucleoli are most often seen in "
                "diffuse large B-cell lymphoma",
            ),
        ),
    ),
    Case(
        key="tubular-adenoma",
        modality="pathology",
        body_region="colon",
        topic="gastroenterology",
        images=("An H&E-stained section of the colonic polyp", "The polypectomy specimen on H&E"),
        presentations=(
            "with a 9 mm polyp removed at screening colonoscopy",
            "with a positive faecal immunochemical test and a sigmoid polyp",
            "with a family history of colorectal cancer and a rectal polyp at surveillance",
        ),
        ages=(50, 78),
        findings=(
            "crowded tubular glands lined by elongated, hyperchromatic, pseudostratified nuclei",
            "dysplastic epithelium that does not extend beyond the muscularis mucosae",
            "reduced goblet cell mucin in the dysplastic glands",
        ),
        facts=(
            "a tubular adenoma is a polyp of dysplastic tubular glands with elongated pencil-like "
            "nuclei",
            "adenomas are precursors of colorectal cancer through the adenoma-carcinoma sequence",
            "invasion requires dysplastic glands to cross the muscularis mucosae into the "
            "submucosa",
        ),
        feature="dysplastic tubular glands confined to the mucosa",
        answer="tubular adenoma",
        distractors=(
            D(
                "hyperplastic polyp",
                fact="a hyperplastic polyp has serrated crypts with mature cells and no dysplasia",
                misread="serrated crypts with a saw-tooth lumen and mature surface cells",
                wrong_fact="elongated pseudostratified nuclei are a normal feature of hyperplastic "
                "epithelium",
            ),
            D(
                "invasive adenocarcinoma",
                fact="invasive adenocarcinoma shows malignant glands in the submucosa with a "
                "desmoplastic stroma",
                misread="dysplastic glands breaching the muscularis mucosae with a desmoplastic "
                "reaction",
                wrong_fact="crowding and nuclear pseudostratification in a polyp are enough to "
                "call it invasive carcinoma",
            ),
        ),
    ),
    Case(
        key="tuberculosis",
        modality="pathology",
        body_region="lung",
        topic="infectious disease",
        images=(
            "H&E and Ziehl-Neelsen stained sections of a lung biopsy",
            "A lung biopsy stained with H&E and Ziehl-Neelsen",
        ),
        presentations=(
            "with three months of cough, night sweats and weight loss",
            "with fever, weight loss and hilar lymphadenopathy after living in a high-incidence "
            "region",
            "with a chronic cough and an upper lobe cavity on chest imaging",
        ),
        ages=(20, 75),
        findings=(
            "granulomas with central caseous necrosis",
            "epithelioid histiocytes and Langhans giant cells around the necrosis",
            "red rod-shaped acid-fast bacilli on the Ziehl-Neelsen stain",
        ),
        facts=(
            "caseating granulomas are the classic tissue reaction to Mycobacterium tuberculosis",
            "mycobacteria resist acid-alcohol decolourisation and stain red with Ziehl-Neelsen",
            "upper lobe cavities, night sweats and weight loss are typical of reactivation "
            "tuberculosis",
        ),
        feature="caseating granulomas with acid-fast bacilli",
        answer="tuberculosis",
        distractors=(
            D(
                "sarcoidosis",
                fact="sarcoidosis forms tight non-caseating granulomas without organisms",
                misread="tight, well-formed granulomas without central necrosis",
                wrong_fact="Langhans giant cells around granulomas are specific for sarcoidosis",
            ),
            D(
                "histoplasmosis",
                fact="histoplasmosis shows small intracellular yeasts that stain with silver and "
                "periodic acid-Schiff stains",
                misread="small oval yeast forms inside histiocytes",
                wrong_fact="acid-fast organisms in a necrotising granuloma are most often "
                "Histoplasma yeasts",
            ),
        ),
    ),
    # ----------------------------------------------------------- dermoscopy
    Case(
        key="melanoma",
        modality="dermoscopy",
        body_region="skin of trunk",
        topic="dermatology",
        images=_DERMOSCOPY,
        presentations=(
            "with a mole on the upper back that has grown and darkened over six months",
            "with an irregular pigmented lesion on the back noticed by a partner",
            "with a changing, occasionally itchy pigmented lesion on the shoulder",
        ),
        ages=(30, 80),
        findings=(
            "an asymmetric lesion with an atypical, irregular pigment network",
            "irregular streaks at the periphery",
            "a blue-white veil and several colours including black, brown and blue-grey",
        ),
        facts=(
            "asymmetry, multiple colours and an atypical network are core dermoscopic criteria "
            "for melanoma",
            "irregular peripheral streaks and a blue-white veil are melanoma-specific structures",
            "a changing pigmented lesion in an adult is the most important warning sign of "
            "melanoma",
        ),
        feature="asymmetric lesion with an atypical network, peripheral streaks and a blue-white "
        "veil",
        answer="melanoma",
        distractors=(
            D(
                "seborrhoeic keratosis",
                fact="seborrhoeic keratosis shows milia-like cysts, comedo-like openings and a "
                "sharp stuck-on border",
                misread="milia-like cysts and comedo-like openings",
                wrong_fact="a blue-white veil is characteristic of seborrhoeic keratosis",
            ),
            D(
                "benign compound naevus",
                fact="a benign naevus is symmetric with a regular network and one or two colours",
                misread="a symmetric regular network that fades evenly at the edge",
                wrong_fact="peripheral streaks and several colours are normal in adult naevi",
            ),
        ),
    ),
    Case(
        key="basal-cell-carcinoma",
        modality="dermoscopy",
        body_region="skin of face",
        topic="dermatology",
        images=_DERMOSCOPY,
        presentations=(
            "with a slowly growing pearly papule on the side of the nose",
            "with a non-healing, occasionally bleeding lesion on the forehead",
            "with a shiny nodule on the cheek after decades of outdoor work",
        ),
        ages=(45, 90),
        findings=(
            "sharply focused, branching arborising vessels across the lesion",
            "blue-grey ovoid nests without a pigment network",
            "shiny white structures and a small central ulceration",
        ),
        facts=(
            "arborising vessels are the most characteristic dermoscopic feature of basal cell "
            "carcinoma",
            "blue-grey ovoid nests without a pigment network also favour basal cell carcinoma",
            "basal cell carcinoma is the commonest skin cancer and favours sun-exposed facial skin",
        ),
        feature="arborising vessels with blue-grey ovoid nests and no network",
        answer="basal cell carcinoma",
        distractors=(
            D(
                "sebaceous hyperplasia",
                fact="sebaceous hyperplasia shows yellow lobules with crown vessels around a "
                "central pore",
                misread="yellowish lobules with crown vessels that do not cross the centre",
                wrong_fact="branching vessels across a facial papule are typical of sebaceous "
                "hyperplasia",
            ),
            D(
                "intradermal naevus",
                fact="an intradermal naevus is a soft papule with comma-shaped vessels and "
                "sometimes remnants of pigment",
                misread="comma-shaped vessels over a soft skin-coloured papule",
                wrong_fact="blue-grey ovoid nests are the usual pattern of an intradermal naevus",
            ),
        ),
    ),
    Case(
        key="seborrhoeic-keratosis",
        modality="dermoscopy",
        body_region="skin of trunk",
        topic="dermatology",
        images=(
            "A dermoscopic image of one of the lesions",
            "A dermoscopy photograph of the largest lesion",
        ),
        presentations=(
            "with several warty brown lesions on the trunk that look stuck on",
            "with a slowly enlarging dark, rough lesion on the back",
            "with a brown plaque on the chest that catches on clothing",
        ),
        ages=(50, 88),
        findings=(
            "multiple milia-like cysts and comedo-like openings",
            "fissures and ridges giving a brain-like pattern",
            "a sharply demarcated edge",
        ),
        facts=(
            "milia-like cysts and comedo-like openings are typical of seborrhoeic keratosis",
            "fissures and ridges reflect the folded keratinising surface of a seborrhoeic "
            "keratosis",
            "seborrhoeic keratoses are common benign lesions that multiply with age",
        ),
        feature="milia-like cysts, comedo-like openings and a cerebriform surface",
        answer="seborrhoeic keratosis",
        distractors=(
            D(
                "melanoma",
                fact="melanoma shows asymmetry, an atypical network, irregular streaks or a "
                "blue-white veil",
                misread="irregular pigmentation with a blue-white veil",
                wrong_fact="comedo-like openings are a melanoma-specific structure",
            ),
            D(
                "pigmented basal cell carcinoma",
                fact="pigmented basal cell carcinoma shows blue-grey ovoid nests, leaf-like areas "
                "and arborising vessels",
                misread="blue-grey ovoid nests scattered through the lesion",
                wrong_fact="milia-like cysts arise from the basaloid nests of basal cell carcinoma",
            ),
        ),
    ),
    Case(
        key="dermatofibroma",
        modality="dermoscopy",
        body_region="skin of leg",
        topic="dermatology",
        images=("A dermoscopic image of the lesion", "A dermoscopy photograph of the nodule"),
        presentations=(
            "with a firm brown nodule on the lower leg that dimples when pinched",
            "with a small hard papule on the thigh present for years after an insect bite",
            "with a firm, slightly itchy brown papule on the shin",
        ),
        ages=(20, 60),
        findings=(
            "a central white scar-like patch",
            "a delicate light-brown pigment network at the periphery",
            "a symmetric round outline",
        ),
        facts=(
            "a central white patch with a fine peripheral network is the classic dermoscopic "
            "pattern of dermatofibroma",
            "dermatofibromas are benign fibrous nodules, often on the legs and sometimes after "
            "minor trauma",
            "lateral pressure dimples the skin because the lesion is tethered to the epidermis",
        ),
        feature="central white patch with a delicate peripheral network",
        answer="dermatofibroma",
        distractors=(
            D(
                "melanoma",
                fact="regressing melanoma shows white scar-like areas with grey peppering inside "
                "an asymmetric, multicoloured lesion",
                misread="a central white area of regression with grey peppering",
                wrong_fact="a central white patch with a peripheral network is the classic "
                "regression pattern of melanoma",
            ),
            D(
                "blue naevus",
                fact="a blue naevus shows homogeneous blue pigmentation without a network",
                misread="homogeneous steel-blue pigmentation without any network",
                wrong_fact="a delicate peripheral network around a central white patch is typical "
                "of blue naevi",
            ),
        ),
    ),
    Case(
        key="actinic-keratosis",
        modality="dermoscopy",
        body_region="skin of scalp",
        topic="dermatology",
        images=("A dermoscopic image of the lesion", "A dermoscopy photograph of the patch"),
        presentations=(
            "with a rough, scaly patch on sun-damaged scalp",
            "with a sandpaper-like pink patch on the forehead",
            "with several scaly spots on the temples after years of outdoor work",
        ),
        ages=(55, 88),
        findings=(
            "a red pseudo-network around the hair follicles, the strawberry pattern",
            "white-yellow surface scale",
            "prominent follicular openings with a white halo",
        ),
        facts=(
            "the strawberry pattern, a red pseudo-network around follicles, is typical of "
            "actinic keratosis on the face and scalp",
            "actinic keratoses are keratinocyte dysplasias caused by chronic ultraviolet exposure",
            "a small proportion of actinic keratoses progress to squamous cell carcinoma",
        ),
        feature="strawberry pattern with surface scale and follicular openings",
        answer="actinic keratosis",
        distractors=(
            D(
                "invasive squamous cell carcinoma",
                fact="invasive squamous cell carcinoma shows a central keratin mass, ulceration "
                "and hairpin or irregular vessels",
                misread="a central keratin mass with ulceration and irregular looped vessels",
                wrong_fact="a red pseudo-network around follicles indicates invasive squamous "
                "cell carcinoma",
            ),
            D(
                "psoriasis",
                fact="psoriasis shows evenly distributed dotted vessels under white scale",
                misread="regularly distributed dotted vessels on a uniform red background",
                wrong_fact="a strawberry pattern with scale on the scalp is the typical "
                "dermoscopic sign of psoriasis",
            ),
        ),
    ),
    # --------------------------------------------------------------- fundus
    Case(
        key="proliferative-diabetic-retinopathy",
        modality="fundus",
        body_region="retina",
        topic="ophthalmology",
        images=(
            "A colour fundus photograph of the right eye",
            "A fundus photograph of the right eye",
        ),
        presentations=(
            "with long-standing poorly controlled type 2 diabetes and blurred vision",
            "with type 1 diabetes for twenty years and new floaters",
            "with diabetes, kidney disease and gradually worsening vision",
        ),
        ages=(30, 75),
        findings=(
            "scattered dot-blot haemorrhages and yellow hard exudates",
            "fine tangled new vessels on the optic disc",
            "a boat-shaped preretinal haemorrhage below the disc",
        ),
        facts=(
            "retinal ischaemia in diabetes drives new vessel growth through VEGF",
            "new vessels at the disc or elsewhere define the proliferative stage",
            "fragile new vessels bleed into the preretinal space and the vitreous",
        ),
        feature="new vessels at the disc with preretinal haemorrhage in a diabetic retina",
        answer="proliferative diabetic retinopathy",
        distractors=(
            D(
                "hypertensive retinopathy",
                fact="hypertensive retinopathy shows arteriolar narrowing, arteriovenous nicking, "
                "flame haemorrhages and, when severe, disc swelling",
                misread="narrowed arterioles with arteriovenous nicking and flame haemorrhages",
                wrong_fact="new vessels on the optic disc are the defining sign of grade 4 "
                "hypertensive retinopathy",
            ),
            D(
                "central retinal vein occlusion",
                fact="central retinal vein occlusion causes widespread haemorrhages in all "
                "quadrants with dilated tortuous veins",
                misread="haemorrhages in all four quadrants with dilated, tortuous veins",
                wrong_fact="dot-blot haemorrhages with a preretinal bleed are diagnostic of "
                "central retinal vein occlusion",
            ),
        ),
    ),
    Case(
        key="papilloedema",
        modality="fundus",
        body_region="optic disc",
        topic="neuro-ophthalmology",
        images=("Fundus photographs of both eyes", "Colour fundus photographs of both eyes"),
        presentations=(
            "with headaches that are worse on lying down and brief episodes of greyed-out vision",
            "with morning headaches, vomiting and pulsatile tinnitus",
            "with a week of worsening headache and double vision",
        ),
        ages=(18, 50),
        findings=(
            "swelling of both optic discs with blurred margins",
            "obscured vessels at the disc margins and peripapillary flame haemorrhages",
            "absent spontaneous venous pulsations",
        ),
        facts=(
            "papilloedema is disc swelling caused by raised intracranial pressure and is usually "
            "bilateral",
            "headache worse on lying down and transient visual obscurations are typical of "
            "raised intracranial pressure",
            "loss of spontaneous venous pulsation supports raised intracranial pressure",
        ),
        feature="bilateral disc swelling with haemorrhages and loss of venous pulsation",
        answer="papilloedema",
        distractors=(
            D(
                "optic disc drusen",
                fact="optic disc drusen cause a lumpy elevated disc with refractile bodies and no "
                "vessel obscuration",
                misread="lumpy refractile bodies at the disc margins without vessel obscuration",
                wrong_fact="bilateral disc swelling with flame haemorrhages is the classic "
                "appearance of optic disc drusen",
            ),
            D(
                "anterior ischaemic optic neuropathy",
                fact="anterior ischaemic optic neuropathy causes sudden painless loss of vision "
                "with swelling of one disc",
                misread="sectoral swelling of one disc with pallor",
                wrong_fact="bilateral disc swelling with headache is the usual presentation of "
                "ischaemic optic neuropathy",
            ),
        ),
    ),
    Case(
        key="central-retinal-artery-occlusion",
        modality="fundus",
        body_region="retina",
        topic="ophthalmology",
        images=(
            "A colour fundus photograph of the left eye",
            "A fundus photograph of the affected left eye",
        ),
        presentations=(
            "with sudden painless loss of vision in the left eye an hour ago",
            "with abrupt painless blindness in one eye and atrial fibrillation",
            "with sudden monocular vision loss and a carotid bruit",
        ),
        ages=(55, 88),
        findings=(
            "a diffusely pale, whitened retina at the posterior pole",
            "a cherry-red spot at the fovea",
            "thin arterioles with segmented blood columns",
        ),
        facts=(
            "occlusion of the central retinal artery leaves the inner retina ischaemic, opaque "
            "and white",
            "the fovea has no inner retina, so the intact choroid shows through as a cherry-red "
            "spot",
            "emboli from the carotid artery or the heart are the usual cause",
        ),
        feature="white ischaemic retina with a cherry-red spot",
        answer="central retinal artery occlusion",
        distractors=(
            D(
                "central retinal vein occlusion",
                fact="central retinal vein occlusion gives haemorrhages in all quadrants with "
                "dilated tortuous veins",
                misread="widespread flame haemorrhages in all quadrants with dilated veins",
                wrong_fact="a cherry-red spot with retinal whitening is the classic sign of "
                "central retinal vein occlusion",
            ),
            D(
                "retinal detachment",
                fact="retinal detachment shows a grey elevated retina, often after flashes and "
                "floaters and a curtain over the vision",
                misread="a grey, billowing elevated retina in the superior periphery",
                wrong_fact="diffuse retinal whitening with a cherry-red spot is caused by "
                "separation of the neurosensory retina",
            ),
        ),
    ),
    Case(
        key="glaucoma",
        modality="fundus",
        body_region="optic disc",
        topic="ophthalmology",
        images=(
            "A colour fundus photograph centred on the optic disc",
            "A fundus photograph of the right optic disc",
        ),
        presentations=(
            "with raised intraocular pressure at a routine eye test",
            "with a family history of glaucoma and gradual loss of peripheral vision",
            "with an abnormal visual field test and no symptoms",
        ),
        ages=(45, 85),
        findings=(
            "a vertical cup-to-disc ratio of about 0.8",
            "thinning of the inferior neuroretinal rim with a notch",
            "a small splinter haemorrhage at the inferotemporal disc margin",
        ),
        facts=(
            "glaucoma causes progressive loss of retinal ganglion cell axons, which enlarges "
            "the cup",
            "the neuroretinal rim is normally thickest inferiorly, so inferior thinning is an "
            "early glaucomatous sign",
            "disc haemorrhages are associated with glaucoma progression",
        ),
        feature="enlarged cup with inferior rim notching and a disc haemorrhage",
        answer="glaucomatous optic neuropathy",
        distractors=(
            D(
                "physiological cupping",
                fact="physiological cupping shows a large round cup with an even rim that "
                "follows the normal thickness pattern",
                misread="a round cup with an evenly thick neuroretinal rim",
                wrong_fact="a cup-to-disc ratio of 0.8 with rim thinning is within the normal "
                "range in adults",
            ),
            D(
                "compressive optic atrophy",
                fact="compressive optic atrophy causes disc pallor out of proportion to cupping",
                misread="a pale disc with little cupping",
                wrong_fact="notching of the rim with an enlarged cup is the typical sign of "
                "compressive optic atrophy",
            ),
        ),
    ),
    Case(
        key="neovascular-amd",
        modality="fundus",
        body_region="macula",
        topic="ophthalmology",
        images=(
            "A colour fundus photograph of the macula",
            "A fundus photograph centred on the macula",
        ),
        presentations=(
            "with distortion of straight lines and blurring of central vision over weeks",
            "with a dark patch in the centre of vision of one eye",
            "with difficulty reading and door frames that look wavy",
        ),
        ages=(65, 92),
        findings=(
            "numerous soft yellow drusen at the macula",
            "a grey-green subretinal lesion under the fovea",
            "surrounding subretinal haemorrhage and exudate",
        ),
        facts=(
            "drusen are deposits under the retinal pigment epithelium and the hallmark of "
            "age-related macular degeneration",
            "in the neovascular form, choroidal new vessels grow under the macula and leak or "
            "bleed",
            "metamorphopsia is an early symptom of fluid under the macula",
        ),
        feature="drusen with a subfoveal grey-green lesion and haemorrhage",
        answer="neovascular age-related macular degeneration",
        distractors=(
            D(
                "central serous chorioretinopathy",
                fact="central serous chorioretinopathy causes a clear serous detachment of the "
                "macula, typically in younger adults",
                misread="a clear, round serous elevation of the macula without blood",
                wrong_fact="drusen with subretinal blood in an older patient are typical of "
                "central serous chorioretinopathy",
            ),
            D(
                "diabetic macular oedema",
                fact="diabetic macular oedema shows retinal thickening with hard exudates around "
                "microaneurysms",
                misread="a ring of hard exudates around leaking microaneurysms",
                wrong_fact="a subfoveal haemorrhagic lesion with drusen is a characteristic "
                "feature of diabetic macular oedema",
            ),
        ),
    ),
)

# How each modality's image is named in a question, and what a trace may say
# about image quality (an optional opening observation that varies length).
_IMAGE_NOUN = {
    "X-ray": "radiograph",
    "CT": "CT scan",
    "MRI": "MRI",
    "ultrasound": "ultrasound image",
    "pathology": "histology",
    "dermoscopy": "dermoscopic image",
    "fundus": "fundus photograph",
}
_QUALITY = {
    "X-ray": "an adequately exposed film without rotation",
    "CT": "a diagnostic-quality study without significant artefact",
    "MRI": "a diagnostic-quality study without motion artefact",
    "ultrasound": "a diagnostic-quality study with adequate views",
    "pathology": "a well-preserved, well-stained section",
    "dermoscopy": "a sharply focused image of a single lesion",
    "fundus": "a well-focused image of the posterior pole",
}
_ASKS = (
    "What is the most likely diagnosis?",
    "Which diagnosis best explains the findings?",
    "What is the most likely diagnosis based on this image?",
)

_CANDIDATE_STYLES = {"steps": 5, "bullets": 3, "prose": 2}
_BASELINE_STYLES = {"steps": 3, "bullets": 2, "prose": 5}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(age: int) -> str:
    """'an' for ages read with a leading vowel sound (18, 80-89), else 'a'."""
    return "an" if age == 18 or 80 <= age <= 89 else "a"


def _subset(items: Sequence[str], rng: random.Random, low: int, high: int) -> list[str]:
    """A random subset of `low`..`high` items that keeps their written order."""
    k = rng.randint(min(low, len(items)), min(high, len(items)))
    chosen = sorted(rng.sample(range(len(items)), k))
    return [items[i] for i in chosen]


def _question(case: Case, rng: random.Random) -> str:
    age = rng.randint(*case.ages)
    sex = rng.choice(case.sexes)
    presentation = rng.choice(case.presentations)
    image = rng.choice(case.images)
    stem = rng.randrange(3)
    if stem == 0:
        ask = rng.choice(_ASKS)
        return (
            f"{_cap(_article(age))} {age}-year-old {sex} presents {presentation}. "
            f"{image} is shown. {ask}"
        )
    if stem == 1:
        ask = rng.choice(_ASKS)
        return f"{image} is shown for {_article(age)} {age}-year-old {sex} {presentation}. {ask}"
    ask = rng.choice(_ASKS[:2])
    noun = _IMAGE_NOUN[case.modality]
    return (
        f"Clinical history: {age}-year-old {sex} {presentation}. "
        f"Based on the {noun} shown, {ask[0].lower()}{ask[1:]}"
    )


def _reasoning_parts(
    case: Case, rng: random.Random, correct: bool
) -> tuple[list[str], list[str], list[str], str]:
    """Perception noun phrases, knowledge clauses, rationale sentences and the final answer."""
    seen: list[str] = [_QUALITY[case.modality]] if rng.random() < 0.35 else []
    if correct:
        seen += _subset(case.findings, rng, 1, 3)
        facts = _subset(case.facts, rng, 1, 2)
        opener = rng.choice(
            (
                f"Given the {case.feature}, the most likely diagnosis is {case.answer}.",
                f"Taken together, the findings point to {case.answer}.",
                f"These findings, especially the {case.feature}, fit {case.answer} best.",
            )
        )
        return seen, facts, [opener, *_rule_out(case.distractors, rng)], case.answer

    wrong = rng.choice(case.distractors)
    others = [d for d in case.distractors if d is not wrong]
    if rng.random() < 0.5:
        # Misreads the image, then reasons soundly from what it thinks it saw.
        seen.append(wrong.misread)
        facts = [wrong.fact]
        rationale = [
            f"What I see matches this description, so {wrong.name} is the best fit.",
            f"I do not see the {case.feature} that would suggest {case.answer}.",
        ]
    else:
        # Reads the image correctly but applies a wrong fact to it.
        seen += _subset(case.findings, rng, 1, 3)
        facts = [wrong.wrong_fact]
        rationale = [
            f"On that basis, the findings point to {wrong.name}.",
            f"{_cap(case.answer)} seems less likely because it would not explain them as well.",
        ]
    return seen, facts, rationale + _rule_out(others, rng), wrong.name


def _rule_out(options: Sequence[Distractor], rng: random.Random) -> list[str]:
    """Zero to two sentences dismissing alternatives, each citing a true fact about it."""
    count = min(len(options), rng.choice((0, 1, 1, 2)))
    return [
        f"{_cap(d.fact)}; that pattern is not present here, so {d.name} is unlikely."
        for d in rng.sample(list(options), count)
    ]


def _perception_sentences(phrases: Sequence[str], rng: random.Random) -> list[str]:
    openers = ("The image shows", "On the image I can see", "Looking at the image, I see")
    followers = ("I also note", "In addition, I see", "I can also see")
    sentences = []
    for i, phrase in enumerate(phrases):
        if i == 0 and phrase in _QUALITY.values():
            sentences.append(f"This is {phrase}.")
        elif i == 0 or (i == 1 and phrases[0] in _QUALITY.values()):
            sentences.append(f"{rng.choice(openers)} {phrase}.")
        else:
            sentences.append(f"{rng.choice(followers)} {phrase}.")
    return sentences


def _trace(case: Case, rng: random.Random, correct: bool, styles: dict[str, int]) -> str:
    """One reasoning trace: perception, knowledge, rationale, then `Final answer: ...`."""
    seen, facts, rationale, answer = _reasoning_parts(case, rng, correct)
    style = rng.choices(list(styles), weights=list(styles.values()))[0]
    knowledge = [f"{_cap(fact)}." for fact in facts]
    if style == "steps":
        lines = [
            "Step 1 - image findings: " + " ".join(_perception_sentences(seen, rng)),
            "Step 2 - relevant knowledge: " + " ".join(knowledge),
            "Step 3 - reasoning: " + " ".join(rationale),
        ]
    elif style == "bullets":
        lines = ["Image findings:", *(f"- {_cap(p)}" for p in seen), "Relevant facts:"]
        lines += [f"- {k}" for k in knowledge]
        lines.append("Reasoning: " + " ".join(rationale))
    else:
        lines = []
        if rng.random() < 0.4:
            lines += ["Let me work through the image first.", ""]
        lines += [" ".join(_perception_sentences(seen, rng)), ""]
        lines += [" ".join(knowledge), "", " ".join(rationale), ""]
    lines.append(f"Final answer: {answer}")
    return "\n".join(lines)


def sample_pairs(n: int = 240, seed: int = 7, images: bool = False) -> list[dict[str, Any]]:
    """`n` synthetic pairs in the shape the API accepts, identical for the same (n, seed);
    with `images`, each carries the synthetic placeholder image (nothing else changes).

    Cases are dealt in a freshly shuffled order every cycle through the bank,
    and every draw comes from one `random.Random(seed)` in a fixed order, so
    a smaller `n` yields a prefix of a larger one.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    rng = random.Random(seed)
    width = max(4, len(str(n)))
    deck: list[Case] = []
    pairs: list[dict[str, Any]] = []
    for i in range(n):
        if not deck:
            deck = list(CASES)
            rng.shuffle(deck)
        case = deck.pop()
        candidate_correct = rng.random() < CANDIDATE_ACCURACY
        baseline_correct = rng.random() < BASELINE_ACCURACY
        question = _question(case, rng)
        pairs.append(
            {
                "external_id": f"med-{i + 1:0{width}d}",
                "question": question,
                "reference_answer": case.answer,
                "baseline_trace": _trace(case, rng, baseline_correct, _BASELINE_STYLES),
                "candidate_trace": _trace(case, rng, candidate_correct, _CANDIDATE_STYLES),
                "image_urls": [PLACEHOLDER_IMAGE] if images else [],
                "metadata": {
                    "source": SOURCE,
                    "modality": case.modality,
                    "body_region": case.body_region,
                    "topic": case.topic,
                    "case": case.key,
                },
            }
        )
    return pairs


def write_jsonl(path: str | Path, pairs: Iterable[dict[str, Any]]) -> None:
    """Write one pair per line, UTF-8, the format `POST .../pairs` bodies are built from."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps(pair, ensure_ascii=False) + "\n")
