//! Names and postal addresses: no checksum tells a name from a word, so these recognizers use
//! a lexicon of common given names (English, German, French), the words that introduce a
//! person (`Mr`, `Frau`, `Mme`, `my name is`, `je m'appelle`), and the street words of each
//! language. They cost a lexicon lookup per capitalised word pair, and they miss names that
//! are neither in the lexicon nor introduced (see docs/pii.md).

use crate::recognizers::Confirmed;
use crate::text::{at, before, preceded_by, Phrases, WordSet};

/// Common given names, capitalised as written.
const GIVEN: &[&str] = &[
    // English
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "George",
    "Edward",
    "Ronald",
    "Timothy",
    "Jason",
    "Jeffrey",
    "Ryan",
    "Jacob",
    "Gary",
    "Nicholas",
    "Eric",
    "Jonathan",
    "Stephen",
    "Larry",
    "Justin",
    "Scott",
    "Brandon",
    "Benjamin",
    "Samuel",
    "Gregory",
    "Frank",
    "Alexander",
    "Patrick",
    "Jack",
    "Dennis",
    "Jerry",
    "Tyler",
    "Aaron",
    "Henry",
    "Adam",
    "Peter",
    "Nathan",
    "Noah",
    "Oliver",
    "Harry",
    "Charlie",
    "Oscar",
    "Leo",
    "Liam",
    "Ethan",
    "Mason",
    "Lucas",
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Nancy",
    "Lisa",
    "Betty",
    "Margaret",
    "Sandra",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Melissa",
    "Deborah",
    "Stephanie",
    "Rebecca",
    "Laura",
    "Sharon",
    "Cynthia",
    "Kathleen",
    "Amy",
    "Shirley",
    "Angela",
    "Helen",
    "Anna",
    "Brenda",
    "Pamela",
    "Nicole",
    "Emma",
    "Samantha",
    "Katherine",
    "Christine",
    "Rachel",
    "Catherine",
    "Olivia",
    "Sophia",
    "Isabella",
    "Charlotte",
    "Amelia",
    "Mia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Jane",
    "Alice",
    "Grace",
    "Chloe",
    "Lily",
    "Ella",
    "Ava",
    "Lucy",
    "Hannah",
    "Julia",
    "Kate",
    // German
    "Hans",
    "Peter",
    "Klaus",
    "Wolfgang",
    "Jürgen",
    "Dieter",
    "Uwe",
    "Günter",
    "Horst",
    "Frank",
    "Stefan",
    "Andreas",
    "Thomas",
    "Michael",
    "Matthias",
    "Jörg",
    "Sven",
    "Torsten",
    "Markus",
    "Tobias",
    "Florian",
    "Sebastian",
    "Jan",
    "Lukas",
    "Leon",
    "Finn",
    "Jonas",
    "Paul",
    "Felix",
    "Maximilian",
    "Moritz",
    "Niklas",
    "Tim",
    "Ben",
    "Elias",
    "Emil",
    "Anton",
    "Karl",
    "Friedrich",
    "Heinz",
    "Werner",
    "Ursula",
    "Monika",
    "Petra",
    "Sabine",
    "Andrea",
    "Claudia",
    "Susanne",
    "Birgit",
    "Karin",
    "Gabriele",
    "Renate",
    "Heike",
    "Anja",
    "Katrin",
    "Stefanie",
    "Nicole",
    "Julia",
    "Lena",
    "Lea",
    "Leonie",
    "Marie",
    "Sophie",
    "Mia",
    "Hanna",
    "Emilia",
    "Lina",
    "Johanna",
    "Amelie",
    "Greta",
    "Frieda",
    "Klara",
    "Ida",
    "Luise",
    "Jana",
    "Anke",
    "Silke",
    "Ute",
    "Maria",
    // French
    "Jean",
    "Pierre",
    "Michel",
    "André",
    "Philippe",
    "Alain",
    "Jacques",
    "Bernard",
    "Daniel",
    "Patrick",
    "Nicolas",
    "Christophe",
    "Stéphane",
    "François",
    "Laurent",
    "Olivier",
    "Julien",
    "Sébastien",
    "Thierry",
    "Éric",
    "Frédéric",
    "David",
    "Guillaume",
    "Antoine",
    "Hugo",
    "Louis",
    "Gabriel",
    "Raphaël",
    "Arthur",
    "Jules",
    "Adam",
    "Maël",
    "Théo",
    "Nathan",
    "Mathis",
    "Clément",
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Françoise",
    "Monique",
    "Christine",
    "Valérie",
    "Sandrine",
    "Sophie",
    "Céline",
    "Aurélie",
    "Camille",
    "Manon",
    "Chloé",
    "Léa",
    "Inès",
    "Jade",
    "Louise",
    "Alice",
    "Lina",
    "Rose",
    "Anna",
    "Ambre",
    "Juliette",
    "Zoé",
    "Claire",
    "Amélie",
    "Élise",
    "Margaux",
    "Pauline",
    "Émilie",
    "Élodie",
    "Mathilde",
    "Lucie",
];

fn given_names() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| GIVEN.iter().copied().collect())
}

/// Words that introduce a person's name.
static INTRODUCERS: Phrases = Phrases::new(&[
    "mr ",
    "mr. ",
    "mrs ",
    "mrs. ",
    "ms ",
    "ms. ",
    "miss ",
    "dr ",
    "dr. ",
    "prof ",
    "prof. ",
    "herr ",
    "frau ",
    "m. ",
    "mme ",
    "mme. ",
    "mlle ",
    "monsieur ",
    "madame ",
    "my name is ",
    "name: ",
    "ich heiße ",
    "ich heisse ",
    "mein name ist ",
    "je m'appelle ",
    "je suis ",
    "dear ",
    "liebe ",
    "lieber ",
    "sehr geehrte ",
    "sehr geehrter ",
    "cher ",
    "chère ",
    "contact ",
    "kontakt ",
    "customer ",
    "kunde ",
    "kundin ",
    "client ",
    "cliente ",
    "patient ",
    "regards,\n",
    "grüße,\n",
    "cordialement,\n",
    // Writing to, meeting or naming someone by role: what follows is a person, whether or not
    // the given name is in the lexicon (names from elsewhere are found only this way).
    "reply to ",
    "write to ",
    "send to ",
    "sent to ",
    "forward to ",
    "email to ",
    "e-mail to ",
    "talk to ",
    "speak to ",
    "speak with ",
    "meeting with ",
    "call with ",
    "assigned to ",
    "signed by ",
    "attn: ",
    "attention: ",
    "employee ",
    "colleague ",
    "applicant ",
    "candidate ",
    "recipient ",
    "schreibe an ",
    "schreiben an ",
    "schreib an ",
    "antworte ",
    "sende an ",
    "schicke an ",
    "leite an ",
    "gespräch mit ",
    "treffen mit ",
    "termin mit ",
    "mitarbeiter ",
    "mitarbeiterin ",
    "kollege ",
    "kollegin ",
    "bewerber ",
    "bewerberin ",
    "patientin ",
    "empfänger ",
    "zu händen ",
    "z. hd. ",
    "écrire à ",
    "écris à ",
    "écrivez à ",
    "répondre à ",
    "réponds à ",
    "répondez à ",
    "envoyer à ",
    "envoie à ",
    "envoyez à ",
    "transférer à ",
    "parler à ",
    "rendez-vous avec ",
    "réunion avec ",
    "collègue ",
    "employé ",
    "employée ",
    "candidat ",
    "destinataire ",
    "à l'attention de ",
]);

/// Whether lower-case `text` holds one of the words that introduce a person (without the
/// space or punctuation they are written with).
pub(crate) fn introduced_by(text: &str) -> bool {
    INTRODUCERS
        .list()
        .iter()
        .any(|i| text.contains(i.trim_end_matches([' ', '\n', ',', ':'])))
}

/// Capitalised words that start sentences or name things, never given names here.
static NOT_SURNAMES: WordSet = WordSet::new(&[
    "The",
    "And",
    "But",
    "For",
    "With",
    "From",
    "This",
    "That",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Street",
    "Road",
    "Avenue",
    "Straße",
    "Rue",
    "Python",
    "Rust",
    "Java",
    "Linux",
    "Windows",
    "Google",
    "Microsoft",
    "Amazon",
    "Apple",
    "Der",
    "Die",
    "Das",
    "Und",
    "Le",
    "La",
    "Les",
    "Et",
]);

/// Words that name teams, departments and companies: a candidate holding one is not a person
/// (`write to Product Marketing`, `an Vertrieb Nord`, `à Service Client`).
static ORG_WORDS: WordSet = WordSet::new(&[
    "Product",
    "Marketing",
    "Sales",
    "Support",
    "Success",
    "Team",
    "Teams",
    "Department",
    "Legal",
    "Finance",
    "Engineering",
    "Operations",
    "Security",
    "Compliance",
    "Service",
    "Services",
    "Desk",
    "Office",
    "Group",
    "Board",
    "Committee",
    "Management",
    "Inc",
    "Ltd",
    "LLC",
    "GmbH",
    "AG",
    "HR",
    "IT",
    "QA",
    "Vertrieb",
    "Abteilung",
    "Kundendienst",
    "Kundenservice",
    "Buchhaltung",
    "Einkauf",
    "Personalabteilung",
    "Geschäftsführung",
    "Nord",
    "Süd",
    "Équipe",
    "Comptabilité",
    "Direction",
    "Achats",
    "Ressources",
    "Client",
    "Clients",
]);

/// Words of address and titles: they introduce a name, they are not part of it.
static TITLES: WordSet = WordSet::new(&[
    "Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Herr", "Frau", "Mme", "Mlle", "Monsieur", "Madame",
    "Dear", "Liebe", "Lieber", "Sehr", "Cher", "Chère", "Contact", "Kontakt", "Customer", "Kunde",
    "Kundin", "Client", "Cliente", "Patient", "Hallo", "Hello", "Hi", "Bonjour",
]);

/// A candidate of two or three capitalised words: a person when the first is a given name, or
/// when the words before introduce a person, and the last is not a common word.
pub(crate) fn person(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    if before(text, start).is_some_and(|c| c.is_alphanumeric())
        || at(text, end).is_some_and(|c| c.is_alphanumeric())
    {
        return None;
    }
    // The candidate may begin with a word that is not part of the name (`Contact Jane Doe`):
    // try it from each word on, keeping two words at least.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(s.match_indices(' ').map(|(i, _)| i + 1))
        .collect();
    starts.iter().find_map(|&k| name_at(text, start + k, end))
}

/// Whether `start..end` (two or three words) is a person's name.
fn name_at(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    let words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    if words.len() < 2 {
        return None;
    }
    let first = words[0].split('-').next().unwrap_or_default();
    let last = words[words.len() - 1];
    if NOT_SURNAMES.contains(last)
        || NOT_SURNAMES.contains(first)
        || TITLES.contains(first)
        || words.iter().any(|w| ORG_WORDS.contains(w))
    {
        return None;
    }
    let given = given_names().contains(first);
    let introduced = preceded_by(text, start, 24, &INTRODUCERS);
    (given || introduced).then_some(Confirmed {
        start,
        end,
        confidence: if given && introduced { 0.95 } else { 0.8 },
    })
}

/// A person introduced by a title or phrase but named by one word (`Mr Smith`, `Frau Weber`).
pub(crate) fn titled(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    if NOT_SURNAMES.contains(s) || at(text, end).is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    Some(Confirmed {
        start,
        end,
        confidence: 0.85,
    })
}

/// An address as the patterns shape it: a number, a street word, and a postcode or city if
/// they follow. The span is the whole address.
pub(crate) fn address(text: &str, start: usize, end: usize) -> Option<Confirmed> {
    let s = text.get(start..end)?;
    if before(text, start).is_some_and(|c| c.is_alphanumeric())
        || !s.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    // Trailing separators are not part of it.
    let trimmed = s.trim_end_matches([',', ' ']);
    Some(Confirmed {
        start,
        end: start + trimmed.len(),
        confidence: 0.85,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_and_introducers() {
        let t = "Please call Jane Doe today";
        let i = t.find("Jane").unwrap_or(0);
        assert!(person(t, i, i + 8).is_some());
        let t = "Write Python Code now";
        let i = t.find("Write").unwrap_or(0);
        assert!(
            person(t, i, i + 12).is_none(),
            "not a given name, not introduced"
        );
        let t = "Dear Zoltan Kovacs,";
        let i = t.find("Zoltan").unwrap_or(0);
        assert!(person(t, i, i + 13).is_some(), "introduced");
    }
}
